// engine/host_memory.cpp — see host_memory.h.
#include "host_memory.h"

#include <fstream>
#include <string>

namespace mlascope {

uint64_t available_memory_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key, unit;
  uint64_t kb = 0;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024u;
  return 0;
}

}  // namespace mlascope

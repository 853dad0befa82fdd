// engine/host_memory.h — what the host can give: read from /proc/meminfo.
#pragma once
#include <cstdint>

namespace mlascope {

uint64_t available_memory_bytes();  // MemAvailable, 0 when it cannot be read

}  // namespace mlascope

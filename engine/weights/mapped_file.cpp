// engine/weights/mapped_file.cpp — POSIX mmap, or a read into huge-page anonymous memory; an empty
// file maps to a null pointer of size 0.
#include "mapped_file.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../error.h"
#include "../host_memory.h"

namespace mlascope {

namespace {
std::atomic<Residency> g_residency{Residency::Auto};

bool want_resident(uint64_t size) {
  switch (g_residency.load()) {
    case Residency::Map: return false;
    case Residency::Resident: return true;
    case Residency::Auto: break;
  }
  const uint64_t avail = available_memory_bytes();
  return size >= (4u << 20) && avail > 0 && size < avail / 2;
}
}  // namespace

void MappedFile::set_residency(Residency r) { g_residency = r; }
Residency MappedFile::residency() { return g_residency.load(); }

MappedFile::MappedFile(const std::filesystem::path& path, const char* where, const MapOptions& options)
    : path_(path.string()) {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(where, path_, std::string("cannot open file: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(where, path_, "not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > 0 && options.weights && want_resident(size_)) {
    void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      ::madvise(p, size_, MADV_HUGEPAGE);  // advice only: without THP it is plain anonymous memory
      auto* dst = static_cast<uint8_t*>(p);
      uint64_t off = 0;
      while (off < size_) {
        const ssize_t n = ::pread(fd, dst + off, std::min<uint64_t>(size_ - off, uint64_t{1} << 26), static_cast<off_t>(off));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          const int e = n < 0 ? errno : 0;
          ::munmap(p, size_);
          ::close(fd);
          fail(where, path_, e ? std::string("cannot read file: ") + std::strerror(e)
                               : "file is shorter than its size (" + std::to_string(size_) + " bytes): changed while loading");
        }
        off += static_cast<uint64_t>(n);
        if (options.on_read) options.on_read(off, size_);
      }
      ::mprotect(p, size_, PROT_READ);  // weights are never written: a stray write faults
      data_ = dst;
      resident_ = true;
      ::close(fd);
      return;
    }
    // No anonymous memory to spare: fall back to the mapping.
  }
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail(where, path_, std::string("cannot map file: ") + std::strerror(e));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

bool MappedFile::rewrite(const std::function<void(uint8_t*, uint64_t)>& edit) {
  if (!resident_ || !data_) return false;
  auto* p = const_cast<uint8_t*>(data_);  // our own anonymous memory (see the constructor)
  if (::mprotect(p, size_, PROT_READ | PROT_WRITE) != 0) return false;
  edit(p, size_);
  ::mprotect(p, size_, PROT_READ);
  return true;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace mlascope

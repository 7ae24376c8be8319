// Anonymous shared memory that two processes map: Linux memfd (sealed against resizing), else
// a POSIX shm object unlinked as soon as it is created. No named object outlives the call that
// made it; the memory lives as long as a mapping or descriptor refers to it.
#pragma once

#include <cstddef>
#include <string>

namespace mgf {
namespace lite {

// New shared memory object of `size` bytes (> 0), close-on-exec. -1 + *error on failure.
// seal: forbid later shrinking / growing (Linux), so a mapping can never lose its pages.
int shm_create(size_t size, bool seal, std::string* error);
// Forbid writes through any descriptor or new shared mapping (Linux; a no-op elsewhere).
bool shm_seal_readonly(int fd);
// Size of the object behind fd (lseek to the end), or -1.
long long shm_size(int fd);
// mmap the whole object; nullptr + *error on failure.
void* shm_map(int fd, size_t size, bool writable, bool private_copy, std::string* error);
void shm_unmap(void* base, size_t size);
size_t page_round(size_t n);

}  // namespace lite
}  // namespace mgf

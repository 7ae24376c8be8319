// Fork-mode implementations of every int-returning LITE_* function (same names and signatures,
// in namespace mgf::lite::fork), plus the helpers they share.
#pragma once

#include "api_list.h"
#include "client.h"

namespace mgf {
namespace lite {
namespace fork {

#define MGF_FORK_DECLARE(name, params, args) int name params;
MGF_LITE_INT_API(MGF_FORK_DECLARE)
#undef MGF_FORK_DECLARE

// Resolve handles under State::mu (held by the caller); nullptr with the error set.
ClientNetwork* network_of(LiteNetwork h, const char* api);
ClientTensor* tensor_of(LiteTensor h, const char* api);
// Worker and id of a live network, copied out of the registry; false with the error set.
bool lookup_network(LiteNetwork h, const char* api, Worker** w, uint64_t* id);
bool lookup_tensor(LiteTensor h, const char* api, Worker** w, uint64_t* id);
int tensor_call(LiteTensor h, const char* api, uint32_t op, const Writer& args, Response* out = nullptr);
// One round trip: op, the network's id, then args.
int network_call(LiteNetwork h, const char* api, uint32_t op, const Writer& args, Response* out = nullptr,
                 int fd = -1);
// "<what> is NULL" error when p is NULL.
bool need(const void* p, const char* api, const char* what);
// A sealed read-only shared-memory copy of caller bytes (for models); -1 + error.
int upload(const void* data, size_t size, const char* api);
// Unsupported in fork mode, with the reason.
int unsupported(const char* api, const char* why);

}  // namespace fork
}  // namespace lite
}  // namespace mgf

// Fork mode: LITE_forward / LITE_wait and the callbacks around a forward.
//
// A forward is one round trip: the worker runs forward + wait and answers with the new state of
// every IO tensor, so LITE_wait has nothing left to wait for. Input and output data stay in
// shared memory (no copies); only tensors bound to caller memory with LITE_reset_tensor_memory
// are copied in before and out after. Callbacks run in the calling thread: start callbacks just
// before the request, finish and async callbacks once the answer is in.
#include <cstring>

#include "error.h"
#include "fork_api.h"

namespace mgf {
namespace lite {
namespace fork {

namespace {

struct CallbackIo {
  std::vector<LiteIO> ios;
  std::vector<LiteTensor> tensors;
};

// IO descriptions and tensors of all inputs (k = 0) or outputs (k = 1), for start / finish callbacks.
int callback_io(LiteNetwork network, int k, CallbackIo* out) {
  const char* api = k == 0 ? "LITE_forward (start callback)" : "LITE_forward (finish callback)";
  size_t count = 0;
  if ((k == 0 ? fork::LITE_get_all_input_name(network, &count, nullptr) : fork::LITE_get_all_output_name(network, &count, nullptr)) != 0)
    return -1;
  std::vector<const char*> names(count);
  if (count && (k == 0 ? fork::LITE_get_all_input_name(network, nullptr, names.data())
                       : fork::LITE_get_all_output_name(network, nullptr, names.data())) != 0)
    return -1;
  for (const char* name : names) {
    LiteTensor t = nullptr;
    if (fork::LITE_get_io_tensor(network, name, k == 0 ? LITE_INPUT : LITE_OUTPUT, &t) != 0) return -1;
    LiteIO io;
    std::memset(&io, 0, sizeof io);
    io.name = name;
    io.is_host = 1;
    io.io_type = LITE_IO_VALUE;
    std::lock_guard<std::mutex> lock(state().mu);
    ClientNetwork* n = network_of(network, api);
    if (!n) return -1;
    for (const IoDesc& d : n->configured)
      if (d.name == name) io = d.io;
    out->ios.push_back(io);
    out->tensors.push_back(t);
  }
  return 0;
}

}  // namespace

int LITE_forward(const LiteNetwork network) {
  const char* api = "LITE_forward";
  State& s = state();
  Worker* w;
  uint64_t id;
  std::vector<ClientTensor*> user_inputs, user_outputs;
  std::vector<LiteLayout> before;
  LiteStartCallback start_cb;
  LiteStartCallbackWithData start_cb_data;
  LiteFinishCallback finish_cb;
  LiteFinishCallbackWithData finish_cb_data;
  LiteAsyncCallback async_cb;
  LiteAsyncCallbackWithData async_cb_data;
  void *start_user, *finish_user, *async_user;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    ClientNetwork* n = network_of(network, api);
    if (!n) return -1;
    w = n->worker;
    id = n->id;
    for (ClientTensor* t : n->tensors) {
      if (!t->user_ptr) continue;
      if (t->state.flags & kTensorIsInput) user_inputs.push_back(t);
      if (t->state.flags & kTensorIsOutput) user_outputs.push_back(t);
    }
    for (ClientTensor* t : user_outputs) before.push_back(t->state.layout);
    start_cb = n->start_cb;
    start_cb_data = n->start_cb_data;
    start_user = n->start_user;
    finish_cb = n->finish_cb;
    finish_cb_data = n->finish_cb_data;
    finish_user = n->finish_user;
    async_cb = n->async_cb;
    async_cb_data = n->async_cb_data;
    async_user = n->async_user;
  }
  if (start_cb || start_cb_data) {
    CallbackIo io;
    if (callback_io(network, 0, &io) != 0) return -1;
    if (start_cb) start_cb(io.ios.data(), io.tensors.data(), io.ios.size());
    if (start_cb_data) start_cb_data(io.ios.data(), io.tensors.data(), io.ios.size(), start_user);
  }
  // Snapshot caller memory now: later writes to it cannot reach this forward.
  for (ClientTensor* t : user_inputs) sync_in(t);
  Writer& req = thread_request();
  req.u32(kOpForward);
  req.u64(id);
  if (rpc(w, req, &thread_response(), api, -1, &mgf_lite_fork_stats::forwards) != 0) return -1;
  for (size_t i = 0; i < user_outputs.size(); ++i) sync_out(user_outputs[i], before[i]);
  if (finish_cb || finish_cb_data) {
    CallbackIo io;
    if (callback_io(network, 1, &io) != 0) return -1;
    if (finish_cb) finish_cb(io.ios.data(), io.tensors.data(), io.ios.size());
    if (finish_cb_data) finish_cb_data(io.ios.data(), io.tensors.data(), io.ios.size(), finish_user);
  }
  if (async_cb) async_cb();
  if (async_cb_data) async_cb_data(async_user);
  return 0;
}

int LITE_wait(const LiteNetwork network) {
  std::lock_guard<std::mutex> lock(state().mu);
  return network_of(network, "LITE_wait") ? 0 : -1;
}

#define MGF_SET_CALLBACK(fn, type, field, check)                        \
  int fn(LiteNetwork network, const type cb) {                          \
    std::lock_guard<std::mutex> lock(state().mu);                       \
    ClientNetwork* n = network_of(network, #fn);                        \
    if (!n) return -1;                                                  \
    if (check && !cb) return api_fail(#fn, "The ptr pass to LITE api is null"); \
    n->field = cb;                                                      \
    return 0;                                                           \
  }
#define MGF_SET_CALLBACK_DATA(fn, type, field, user, check)             \
  int fn(LiteNetwork network, const type cb, void* user_data) {         \
    std::lock_guard<std::mutex> lock(state().mu);                       \
    ClientNetwork* n = network_of(network, #fn);                        \
    if (!n) return -1;                                                  \
    if (check && !cb) return api_fail(#fn, "The ptr pass to LITE api is null"); \
    n->field = cb;                                                      \
    n->user = user_data;                                                \
    return 0;                                                           \
  }
MGF_SET_CALLBACK(LITE_set_async_callback, LiteAsyncCallback, async_cb, true)
MGF_SET_CALLBACK_DATA(LITE_set_async_callback_with_userdata, LiteAsyncCallbackWithData, async_cb_data, async_user, true)
MGF_SET_CALLBACK(LITE_set_start_callback, LiteStartCallback, start_cb, false)
MGF_SET_CALLBACK_DATA(LITE_set_start_callback_with_userdata, LiteStartCallbackWithData, start_cb_data, start_user, false)
MGF_SET_CALLBACK(LITE_set_finish_callback, LiteFinishCallback, finish_cb, false)
MGF_SET_CALLBACK_DATA(LITE_set_finish_callback_with_userdata, LiteFinishCallbackWithData, finish_cb_data, finish_user,
                      false)
#undef MGF_SET_CALLBACK
#undef MGF_SET_CALLBACK_DATA

}  // namespace fork
}  // namespace lite
}  // namespace mgf

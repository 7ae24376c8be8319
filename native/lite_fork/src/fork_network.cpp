// Fork mode: networks.
#include <unistd.h>

#include <cstring>

#include "error.h"
#include "fork_api.h"
#include "locate.h"

namespace mgf {
namespace lite {
namespace fork {

bool lookup_network(LiteNetwork h, const char* api, Worker** w, uint64_t* id) {
  std::lock_guard<std::mutex> lock(state().mu);
  ClientNetwork* n = network_of(h, api);
  if (!n) return false;
  *w = n->worker;
  *id = n->id;
  return true;
}

int network_call(LiteNetwork h, const char* api, uint32_t op, const Writer& args, Response* out,
                 int fd) {
  Worker* w;
  uint64_t id;
  if (!lookup_network(h, api, &w, &id)) return -1;
  Writer req;
  req.u32(op);
  req.u64(id);
  req.raw(args.data().data(), args.data().size());
  Response local;
  return rpc(w, req, out ? out : &local, api, fd);
}

namespace {

constexpr size_t kMaxIos = 1u << 16;

int make(LiteNetwork* network, const char* api, uint32_t kind, const LiteConfig* config, const LiteNetworkIO* io) {
  if (!need(network, api, "network")) return -1;
  if (io) {
    if (io->input_size > kMaxIos || io->output_size > kMaxIos) return api_fail(api, "too many inputs or outputs");
    if ((io->input_size && !io->inputs) || (io->output_size && !io->outputs))
      return api_fail(api, "network_io has a NULL inputs or outputs array");
    for (size_t i = 0; i < io->input_size; ++i)
      if (!io->inputs[i].name) return api_fail(api, "input name of io tensor must set.");
    for (size_t i = 0; i < io->output_size; ++i)
      if (!io->outputs[i].name) return api_fail(api, "output name of io tensor must set.");
  }
  Worker* w = acquire_worker(api);
  if (!w) return -1;
  Writer req;
  req.u32(kOpMakeNetwork);
  req.u32(kind);
  if (config) write_config(req, *config);
  if (io) {
    write_ios(req, io->inputs, io->input_size);
    write_ios(req, io->outputs, io->output_size);
  }
  Response r;
  if (rpc(w, req, &r, api) != 0) return -1;
  uint64_t id = r.results.u64();
  ClientNetwork* n = new ClientNetwork;
  n->worker = w;
  n->id = id;
  for (size_t i = 0; io && i < io->input_size + io->output_size; ++i) {
    const LiteIO& src = i < io->input_size ? io->inputs[i] : io->outputs[i - io->input_size];
    n->configured.push_back(IoDesc{src.name, src});
  }
  for (IoDesc& d : n->configured) d.io.name = d.name.c_str();
  std::lock_guard<std::mutex> lock(state().mu);
  state().networks.insert(n);
  *network = n;
  return 0;
}

// Input (k = 0) or output (k = 1) names, fetched once per load.
int names(LiteNetwork h, const char* api, int k, std::vector<const char*>* out) {
  Worker* w;
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(state().mu);
    ClientNetwork* n = network_of(h, api);
    if (!n) return -1;
    if (n->names_valid) {
      *out = n->name_ptrs[k];
      return 0;
    }
    w = n->worker;
    id = n->id;
  }
  Writer req;
  req.u32(kOpGetNames);
  req.u64(id);
  Response r;
  if (rpc(w, req, &r, api) != 0) return -1;
  std::vector<std::string> got[2];
  for (int j = 0; j < 2; ++j) {
    uint64_t count = r.results.u64();
    for (uint64_t i = 0; i < count && r.results.ok() && i < kMaxIos; ++i) got[j].push_back(r.results.str());
  }
  if (!r.results.ok()) return api_fail(api, "malformed answer from the worker");
  std::lock_guard<std::mutex> lock(state().mu);
  ClientNetwork* n = network_of(h, api);
  if (!n) return -1;
  for (int j = 0; j < 2; ++j) {
    n->names[j] = std::move(got[j]);
    n->name_ptrs[j].clear();
    for (const std::string& s : n->names[j]) n->name_ptrs[j].push_back(s.c_str());
  }
  n->names_valid = true;
  *out = n->name_ptrs[k];
  return 0;
}

int name_at(LiteNetwork h, const char* api, int k, size_t index, const char** name) {
  if (!need(name, api, "name")) return -1;
  std::vector<const char*> all;
  if (names(h, api, k, &all) != 0) return -1;
  if (index >= all.size())
    return api_fail(api, format("index %zu is out of range: the network has %zu %s", index, all.size(),
                                k == 0 ? "inputs" : "outputs"));
  *name = all[index];
  return 0;
}

int all_names(LiteNetwork h, const char* api, int k, size_t* size, const char** name) {
  std::vector<const char*> all;
  if (names(h, api, k, &all) != 0) return -1;
  if (size) *size = all.size();
  if (name)
    for (size_t i = 0; i < all.size(); ++i) name[i] = all[i];
  return 0;
}

int io_tensor(LiteNetwork h, const char* api, uint32_t op, const char* io_name, size_t n_idx, LiteTensorPhase phase,
              LiteTensor* tensor) {
  if (!need(tensor, api, "tensor")) return -1;
  Writer a;
  a.opt_cstr(io_name);
  if (op == kOpGetDiscreteTensor) a.u64(n_idx);
  a.i32(phase);
  Response r;
  if (network_call(h, api, op, a, &r) != 0) return -1;
  uint64_t id = r.results.u64();
  const TensorState* st = find_state(r, id);
  std::lock_guard<std::mutex> lock(state().mu);
  ClientNetwork* n = network_of(h, api);
  if (!n) return -1;
  auto it = n->worker->tensors.find(id);
  ClientTensor* t = it != n->worker->tensors.end() ? it->second : new_tensor(n->worker, id, n);
  if (st && !apply_state(t, *st)) return api_fail(api, "malformed answer from the worker");
  *tensor = t;
  return 0;
}

}  // namespace

ClientNetwork* network_of(LiteNetwork h, const char* api) {
  if (!h) {
    api_fail(api, "The network pass to LITE api is null");
    return nullptr;
  }
  ClientNetwork* n = static_cast<ClientNetwork*>(h);
  if (!state().networks.count(n)) {
    api_fail(api, format("%p is not a live LiteNetwork of this library", h));
    return nullptr;
  }
  if (!worker_usable(n->worker, api, "network")) return nullptr;
  return n;
}

int LITE_make_default_network(LiteNetwork* network) {
  return make(network, "LITE_make_default_network", 0, nullptr, nullptr);
}

int LITE_make_network(LiteNetwork* network, const LiteConfig config, const LiteNetworkIO io) {
  return make(network, "LITE_make_network", 2, &config, &io);
}

int LITE_make_network_config(LiteNetwork* network, const LiteConfig config) {
  return make(network, "LITE_make_network_config", 1, &config, nullptr);
}

int LITE_load_model_from_mem(LiteNetwork network, void* model_mem, size_t size) {
  const char* api = "LITE_load_model_from_mem";
  if (!need(model_mem, api, "model_mem")) return -1;
  if (size == 0) return api_fail(api, "size is 0");
  {
    std::lock_guard<std::mutex> lock(state().mu);
    ClientNetwork* n = network_of(network, api);
    if (!n) return -1;
    n->names_valid = false;
  }
  // The worker gets its own sealed copy: the caller may reuse or scribble over model_mem at once.
  int fd = upload(model_mem, size, api);
  if (fd < 0) return -1;
  Writer a;
  a.u64(size);
  int rc = network_call(network, api, kOpLoadModelMemory, a, nullptr, fd);
  close(fd);
  return rc;
}

int LITE_load_model_from_path(LiteNetwork network, const char* path) {
  const char* api = "LITE_load_model_from_path";
  if (!need(path, api, "model_path")) return -1;
  {
    std::lock_guard<std::mutex> lock(state().mu);
    ClientNetwork* n = network_of(network, api);
    if (!n) return -1;
    n->names_valid = false;
  }
  Writer a;
  a.opt_cstr(absolute_path(path).c_str());
  return network_call(network, api, kOpLoadModelPath, a);
}

int LITE_shared_weight_with_network(LiteNetwork dst, const LiteNetwork src) {
  const char* api = "LITE_shared_weight_with_network";
  Worker *wd, *ws;
  uint64_t d, s;
  if (!lookup_network(dst, api, &wd, &d) || !lookup_network(src, api, &ws, &s)) return -1;
  if (wd != ws) return api_fail(api, "the two networks live in different workers");
  Writer req;
  req.u32(kOpNetworkPair);
  req.u32(0);
  req.u64(d);
  req.u64(s);
  Response r;
  return rpc(wd, req, &r, api);
}

int LITE_share_runtime_memroy(LiteNetwork dst, LiteNetwork src) {
  const char* api = "LITE_share_runtime_memroy";
  Worker *wd, *ws;
  uint64_t d, s;
  if (!lookup_network(dst, api, &wd, &d) || !lookup_network(src, api, &ws, &s)) return -1;
  if (wd != ws) return api_fail(api, "the two networks live in different workers");
  Writer req;
  req.u32(kOpNetworkPair);
  req.u32(1);
  req.u64(d);
  req.u64(s);
  Response r;
  return rpc(wd, req, &r, api);
}

int LITE_destroy_network(LiteNetwork network) {
  const char* api = "LITE_destroy_network";
  if (!network) return api_fail(api, "The network pass to LITE api is null");
  State& s = state();
  ClientNetwork* n = static_cast<ClientNetwork*>(network);
  Worker* w;
  uint64_t id;
  bool live;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.networks.count(n)) return 0;  // unknown or already destroyed: nothing to do, as in the official library
    s.networks.erase(n);
    w = n->worker;
    id = n->id;
    live = !w->dead.load() && w->owner_pid == getpid();
  }
  int rc = 0;
  if (live) {
    Writer req;
    req.u32(kOpDestroyNetwork);
    req.u64(id);
    Response r;
    rc = rpc(w, req, &r, api);
  }
  std::lock_guard<std::mutex> lock(s.mu);
  for (ClientTensor* t : n->tensors) delete_tensor(t);
  delete n;
  return rc;
}

int LITE_get_io_tensor(LiteNetwork network, const char* name, LiteTensorPhase phase, LiteTensor* tensor) {
  return io_tensor(network, "LITE_get_io_tensor", kOpGetIoTensor, name, 0, phase, tensor);
}

int LITE_get_discrete_tensor(LiteNetwork network, const char* name, size_t n_idx, LiteTensorPhase phase,
                             LiteTensor* tensor) {
  return io_tensor(network, "LITE_get_discrete_tensor", kOpGetDiscreteTensor, name, n_idx, phase, tensor);
}

int LITE_get_input_name(const LiteNetwork network, size_t index, const char** name) {
  return name_at(network, "LITE_get_input_name", 0, index, name);
}

int LITE_get_output_name(const LiteNetwork network, size_t index, const char** name) {
  return name_at(network, "LITE_get_output_name", 1, index, name);
}

int LITE_get_all_input_name(const LiteNetwork network, size_t* size, const char** name) {
  return all_names(network, "LITE_get_all_input_name", 0, size, name);
}

int LITE_get_all_output_name(const LiteNetwork network, size_t* size, const char** name) {
  return all_names(network, "LITE_get_all_output_name", 1, size, name);
}


}  // namespace fork
}  // namespace lite
}  // namespace mgf

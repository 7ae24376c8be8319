// Fork mode, caller side: the worker process, the per-thread channels to it, the handles the
// caller holds, and the shared-memory blocks mapped into this process.
//
// Handles (LiteNetwork, LiteTensor) are pointers to ClientNetwork / ClientTensor objects kept in
// registries: a pointer that is not registered is rejected with an error instead of being
// dereferenced. Each tensor carries the state the worker last reported (layout, sizes, where its
// memory is), so getters and LITE_get_tensor_memory answer without a round trip.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "megforge/lite_fork.h"
#include "protocol.h"
#include "wire.h"

namespace mgf {
namespace lite {
namespace fork {

struct ClientTensor;

struct Block {
  uint8_t* base;
  size_t size;
  bool worker_released;  // the worker no longer uses it (or is gone)
  int refs;              // tensor states and in-flight copies pointing into it
};

struct Worker {
  uint64_t generation = 0;
  pid_t pid = -1;
  pid_t owner_pid = -1;  // the process that started it (a forked child must not use it)
  Channel control;
  std::mutex control_mu;
  std::mutex death_mu;
  std::atomic<bool> dead{false};
  std::string cause;  // why it is gone (set once, before `dead`)
  bool have_version = false;
  int version[3] = {0, 0, 0};
  // Guarded by State::mu.
  std::unordered_map<uint64_t, Block> blocks;
  std::unordered_set<uint64_t> released_early;  // released before we saw the block
  std::unordered_map<uint64_t, ClientTensor*> tensors;
  bool collect_needed = false;  // some block may be ready to unmap
};

struct ClientNetwork;

struct ClientTensor {
  Worker* worker;
  uint64_t id;
  ClientNetwork* owner;  // nullptr for standalone tensors
  TensorState state;
  uint64_t block_ref;  // block whose refs count this tensor (0: none)
  void* user_ptr;      // caller memory given to LITE_reset_tensor_memory (copied in / out)
  size_t user_len;
};

struct IoDesc {
  std::string name;
  LiteIO io;  // io.name points at name
};

struct ClientNetwork {
  Worker* worker;
  uint64_t id;
  std::vector<ClientTensor*> tensors;  // IO tensors handed out
  bool names_valid = false;
  std::vector<std::string> names[2];  // inputs, outputs
  std::vector<const char*> name_ptrs[2];
  std::string extra_info;
  std::vector<IoDesc> configured;  // the LiteNetworkIO given at creation (for callbacks)
  LiteAsyncCallback async_cb = nullptr;
  LiteAsyncCallbackWithData async_cb_data = nullptr;
  void* async_user = nullptr;
  LiteStartCallback start_cb = nullptr;
  LiteStartCallbackWithData start_cb_data = nullptr;
  void* start_user = nullptr;
  LiteFinishCallback finish_cb = nullptr;
  LiteFinishCallbackWithData finish_cb_data = nullptr;
  void* finish_user = nullptr;
};

// A global call to repeat on every new worker (settings made before a crash persist).
struct Replay {
  uint32_t op;
  std::vector<uint8_t> args;
};

struct State {
  std::mutex mu;        // everything below and the objects it points to
  std::mutex start_mu;  // starting / stopping workers
  Worker* current = nullptr;
  std::vector<Worker*> workers;  // every worker started; kept (small) because handles may outlive them
  uint64_t next_generation = 1;
  std::unordered_set<ClientNetwork*> networks;
  std::unordered_set<ClientTensor*> tensors;
  std::vector<Replay> replays;
  mgf_lite_fork_stats stats = {};
};

State& state();

// The live worker for new objects and global calls, started if needed. nullptr + error set.
Worker* acquire_worker(const char* api);
// Error for a call on an object whose worker is unusable; nullptr if it is fine.
bool worker_usable(Worker* w, const char* api, const char* what);

struct Response {
  Reader results;
  std::vector<TensorState> states;
};
// One round trip on this thread's channel. Maps new blocks, applies released blocks and tensor
// states. 0, or -1 with the error set ("<api>: <message>"); a lost worker is marked dead.
// count: a counter of State::stats to add 1 to on success (in the same locked section).
int rpc(Worker* w, const Writer& request, Response* out, const char* api, int fd = -1,
        uint64_t mgf_lite_fork_stats::*count = nullptr);

// This thread's request and response buffers for hot calls (LITE_forward): no allocation per
// call. The request comes cleared; both stay valid until the thread's next use of them.
Writer& thread_request();
Response& thread_response();

// Apply a state to a tensor and keep block refcounts (mu held). false: the worker lied.
bool apply_state(ClientTensor* t, const TensorState& s);
const TensorState* find_state(const Response& r, uint64_t id);
void collect_blocks(Worker* w);  // unmap released blocks nobody points into (mu held)
// Caller-side address of a state's memory, nullptr if not in shared memory (mu held).
uint8_t* shared_address(const ClientTensor* t);
// Which block of w holds [p, p + len), 0 if none (mu held).
uint64_t block_containing(Worker* w, const void* p, size_t len, uint64_t* offset);

// Copy caller memory of a tensor into its shared copy before a call reads it / back after a
// call wrote it. No-ops for tensors without caller memory.
void sync_in(ClientTensor* t);
void sync_out(ClientTensor* t, const LiteLayout& before);

ClientTensor* new_tensor(Worker* w, uint64_t id, ClientNetwork* owner);  // mu held
void delete_tensor(ClientTensor* t);                                   // mu held

// "<api>: <message>", as the error of this thread; returns -1.
int api_fail(const char* api, const std::string& message);

}  // namespace fork
}  // namespace lite
}  // namespace mgf

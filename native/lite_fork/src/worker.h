// The worker process: serves LITE calls from one caller over private channels, running them on
// the official Lite library. Every tensor whose memory is on the CPU lives in a shared-memory
// block that the caller maps too, so the caller reads and writes tensor data in place.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol.h"
#include "real_api.h"
#include "wire.h"

namespace mgf {
namespace lite {

// Report a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP,
// SIGSYS, SIGQUIT, SIGTERM) as a kFrameExit frame on fd just before dying of it, for a caller
// that cannot read exit statuses. Re-raised with the default disposition (the signal still
// kills the process, with a core dump where the system makes one).
void report_fatal_signals(int fd);
// The handler itself, for the test hook's simulated crashes.
void install_fatal_signal_report(int sig);

// Fault injection for tests (MEGFORGE_LITE_FORK_TEST_HOOK="<call>=<action>[@N]").
class TestHook {
 public:
  bool parse(const char* spec, std::string* error);
  void fire(const char* call);

 private:
  std::string call_, action_;
  int delay_ms_ = 0;
  int at_ = 1;
  std::atomic<int> seen_{0};
};

struct WBlock {
  uint64_t id;
  uint8_t* base;
  size_t size;
  int refs;
};

struct WNetwork {
  uint64_t id;
  LiteNetwork handle;
  std::mutex mu;  // serializes every call on this network and its IO tensors
  std::vector<uint64_t> tensors;  // IO tensors handed out
  void* model = nullptr;          // private mapping of the uploaded model (kept: Lite may refer to it)
  size_t model_size = 0;
  int refs = 0;                   // OpLock references (Server::mu_)
  bool destroyed = false;
};

struct WTensor {
  uint64_t id;
  LiteTensor handle;
  uint64_t owner;     // network id, 0 for a standalone tensor (made, sliced, concatenated)
  uint32_t io_flags;  // kTensorIsInput / kTensorIsOutput
  bool bindable;      // may be moved into shared memory (false for views such as slices)
  WBlock* block;      // the block holding its memory, if any (counted in block->refs)
  TensorState last;   // what the caller was last told (refresh_network skips unchanged tensors)
  void* last_ptr;
};

struct Reply {
  int status = 0;
  int code = 0;
  std::string message;
  uint64_t copied = 0;
  std::vector<TensorState> states;
  struct NewBlock {
    uint64_t id;
    uint64_t size;
    int fd;
  };
  std::vector<NewBlock> new_blocks;
  Writer results;

  // A failure of the worker itself (bad request, no memory ...).
  void error(const std::string& msg) {
    status = -1;
    code = LITE_INTERNAL_ERROR;
    message = "LITE fork worker: " + msg;
  }
  // A failure reported by the official library: its message, unchanged.
  void lite_error(const std::string& msg) {
    status = -1;
    code = LITE_INTERNAL_ERROR;
    message = msg;
  }
};

class Server {
 public:
  // Serve until the control channel closes. Returns the process exit status.
  // spin_us: how long each channel's thread may poll for the next request (spin.h), 0: block.
  int run(int control_fd, const std::string& real_lib, int64_t spin_us);

 private:
  friend class OpLock;

  void serve(int fd);
  void handle(uint32_t op, Reader& in, Channel& ch, Reply& rep);
  void send_reply(Channel& ch, Reply& rep);

  // Global calls.
  void op_global(uint32_t op, Reader& in, Channel& ch, Reply& rep);
  void op_model_io_info(uint32_t op, Reader& in, Channel& ch, Reply& rep);
  // Network calls.
  void op_make_network(Reader& in, Reply& rep);
  void op_network(uint32_t op, Reader& in, Channel& ch, Reply& rep);
  void op_network_pair(Reader& in, Reply& rep);
  // Tensor calls.
  void op_make_tensor(Reader& in, Reply& rep);
  void op_tensor(uint32_t op, Reader& in, Reply& rep);
  void op_tensor_pair(uint32_t op, Reader& in, Reply& rep);
  void op_concat(Reader& in, Reply& rep);

  // Report the tensor's state; move its memory into shared memory if it is not there yet
  // (copying the current contents when `preserve`). Caller holds the tensor's lock.
  void refresh(WTensor* t, Reply& rep, bool preserve);
  // Refresh only the tensors whose memory or layout changed.
  bool unchanged(WTensor* t);
  WBlock* bind(WTensor* t, void* current, size_t nbytes, bool preserve, Reply& rep);
  // after_forward: a forward writes outputs only; tensors that are inputs and nothing else keep
  // their layout and memory, so they are not even looked at.
  void refresh_network(WNetwork* net, Reply& rep, bool after_forward = false);

  WBlock* new_block(size_t size, Reply& rep);
  WBlock* find_block(const void* p, size_t len);  // mu_ held
  void retain(WBlock* b);                         // mu_ held
  void release(WBlock* b);                        // mu_ held
  void set_block(WTensor* t, WBlock* b);          // mu_ held
  WTensor* add_tensor(LiteTensor h, uint64_t owner, uint32_t io_flags, bool bindable);
  void drop_tensor(WTensor* t);                   // mu_ held
  void io_names(WNetwork* net, std::vector<std::string>* inputs, std::vector<std::string>* outputs);
  std::string real_error(const char* call);

  RealLite api_;
  TestHook hook_;
  int64_t spin_us_ = 0;
  std::mutex mu_;  // the tables below
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, WNetwork*> nets_;
  std::unordered_map<uint64_t, WTensor*> tensors_;
  std::unordered_map<void*, uint64_t> by_handle_;
  std::map<uintptr_t, WBlock*> blocks_;  // by base address
  std::unordered_map<uint64_t, WBlock*> blocks_by_id_;
  std::vector<uint64_t> released_;  // blocks unmapped since the last reply
  std::mutex standalone_mu_;        // serializes calls on standalone tensors
};

}  // namespace lite
}  // namespace mgf

// Requests and answers between libmegforge_lite (the caller side) and megforge_lite_worker.
//
// Request payload:  u32 op, then the op's arguments.
// Response payload: i32 status (0 ok, else the LITE call failed), i32 error code, str message,
//                   u64 bytes the worker copied, u32 n + u64[n] released block ids,
//                   u32 n + TensorState[n] (every tensor whose state the call may have changed),
//                   then the op's results (only when status == 0).
// Objects (networks, tensors, shared-memory blocks) are named by ids the worker hands out; the
// worker checks every id, offset and size it receives before using it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "megforge/lite_c.h"
#include "wire.h"

namespace mgf {
namespace lite {

constexpr uint32_t kProtocolVersion = 2;  // 2: kFrameExit, --spin-us

enum Op : uint32_t {
  // global
  kOpGetLogLevel = 1,
  kOpSetLogLevel,
  kOpGetDeviceCount,
  kOpTryCoalesce,
  kOpSetLoaderLibPath,
  kOpSetPersistentCache,
  kOpSetTensorRtCache,
  kOpDumpPersistentCache,
  kOpDumpTensorRtCache,
  kOpUpdateDecryptionKey,
  kOpModelIoInfoPath,
  kOpModelIoInfoMemory,  // + fd of a sealed copy of the model
  // network
  kOpMakeNetwork = 100,
  kOpLoadModelMemory,  // + fd of a sealed copy of the model
  kOpLoadModelPath,
  kOpDestroyNetwork,
  kOpForward,
  kOpGetIoTensor,
  kOpGetDiscreteTensor,
  kOpGetNames,
  kOpNetworkGetInt,   // u32 which (NetInt)
  kOpNetworkSetInt,   // u32 which, i64 value
  kOpNetworkPath,     // u32 which (NetPath), opt str
  kOpNetworkPair,     // u32 which (0 shared weights, 1 runtime memory), dst, src
  kOpGetExtraInfo,
  kOpExtraConfigure,
  // tensor
  kOpMakeTensor = 200,
  kOpDestroyTensor,
  kOpSetLayout,
  kOpResetShared,  // reset onto [offset, offset + len) of a block
  kOpResetUser,    // caller memory: bind to a private block of >= len bytes
  kOpReshape,
  kOpSlice,
  kOpFillZero,
  kOpCopy,
  kOpShareMemory,
  kOpMemoryWithIndex,
  kOpConcat,
  kOpGetMemory,
};

enum NetInt : uint32_t {
  kNetCpuInplace = 1,   // get: is_cpu_inplace_mode; set: set_cpu_inplace_mode
  kNetCpuThreads,
  kNetDeviceId,
  kNetStreamId,
  kNetDeviceType,       // get only
  kNetUseTensorRt,      // set only
  kNetAlgoPolicy,       // set only
  kNetAlgoWorkspace,    // set only
  kNetGlobalLayoutTransform,  // set only
  kNetFastrunConfig,    // set only: value = shared_batch_size | (binary_equal << 32)
};

enum NetPath : uint32_t {
  kPathProfile = 1,
  kPathIoTxtDump,
  kPathIoBinDump,
  kPathStaticMemInfo,
  kPathDumpLayoutTransform,
};

// What the caller needs to know about one tensor without asking again.
enum TensorFlags : uint32_t {
  kTensorShared = 1u << 0,    // memory is [offset, offset + nbytes) of block `block`
  kTensorIsInput = 1u << 1,   // network IO tensor that is an input
  kTensorIsOutput = 1u << 2,  // network IO tensor that is an output
};

struct TensorState {
  uint64_t id;
  LiteLayout layout;
  uint64_t nbytes;
  int32_t device_type;
  int32_t device_id;
  int32_t is_pinned_host;
  int32_t is_continue;
  uint32_t flags;
  uint32_t reserved;
  uint64_t block;
  uint64_t offset;
};

// LiteConfig / LiteNetworkIO with owned strings, for the worker side of kOpMakeNetwork etc.
struct ConfigBuf {
  LiteConfig config;
  std::string crypt_name, discrete_name;
  bool has_crypt_name = false, has_discrete_name = false;
  const LiteConfig& get();
};
struct IoBuf {
  std::vector<std::string> names;
  std::vector<LiteIO> inputs, outputs;
  LiteNetworkIO get();
};

void write_config(Writer& w, const LiteConfig& c);
bool read_config(Reader& r, ConfigBuf* out);
// Names must be non-NULL (checked by the caller side before writing).
void write_ios(Writer& w, const LiteIO* ios, size_t n);
// Appends names and ios; io.name is left NULL (names may still reallocate): point them afterwards.
bool read_ios(Reader& r, std::vector<std::string>* names, std::vector<LiteIO>* ios);
bool read_network_io(Reader& r, IoBuf* out);
bool valid_layout(const LiteLayout& l);
// Same shape and data type (ignores shapes past ndim and padding, which libraries leave undefined).
bool same_layout(const LiteLayout& a, const LiteLayout& b);
// A copy with shapes past ndim and padding zeroed.
LiteLayout clean_layout(const LiteLayout& l);
// Bytes of a dense tensor with this layout; 0 for an unknown data type, ndim 0 or overflow.
size_t layout_bytes(const LiteLayout& l);

}  // namespace lite
}  // namespace mgf

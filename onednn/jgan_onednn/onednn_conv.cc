// oneDNN convolutions for XLA:CPU, as XLA FFI handlers (loaded by jgan/onednn.py).
//
// Three passes of one 2-D convolution y = conv(x, w) with NHWC activations and HWIO kernels,
// float32 or bfloat16 (all three operands alike; oneDNN accumulates bfloat16 in float32, and
// needs AVX-512 BF16, which jgan checks before it calls), explicit (lo, hi) padding per spatial
// axis, no dilation:
//   jgan_conv_fwd          (x, w)  -> y
//   jgan_conv_bwd_data     (dy, w) -> dx   (also every transposed convolution's forward)
//   jgan_conv_bwd_weights  (x, dy) -> dw
// XLA:CPU runs convolution gradients through Eigen at about half its forward's rate; oneDNN's
// kernels run all three passes near the machine's matrix-product rate.
//
// Primitives are created once per shape and cached. Activations stay in XLA's NHWC layout;
// kernels are reordered per call into the layout the primitive asks for (a few hundred KB).
// Scratchpads are per call ("user" mode), so XLA may run the same primitive on two threads at
// once (D's real and fake passes).
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using Tag = memory::format_tag;

namespace {

enum Pass { kFwd = 0, kBwdData = 1, kBwdWeights = 2 };

dnnl::engine& Engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

struct Primitive {
  dnnl::primitive op;
  memory::desc x, y;                    // NHWC activations, as XLA lays them out
  memory::desc plain_w, op_w, scratch;  // op_w: the kernel layout the primitive uses
  dnnl::reorder to_op, to_plain;        // plain_w -> op_w (kernel in), op_w -> plain_w (out)
};

// Key: pass, x [N, H, W, C], w [KH, KW, C, O], y [N, OH, OW, O] dims, strides, pads, data type.
using Key = std::vector<int64_t>;

const Primitive& Get(const Key& key) {
  static std::mutex mu;
  static std::map<Key, std::unique_ptr<Primitive>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[key];
  if (slot) return *slot;
  const int64_t* k = key.data() + 1;
  memory::dims x_dims{k[0], k[3], k[1], k[2]}, w_dims{k[7], k[6], k[4], k[5]},
      y_dims{k[8], k[11], k[9], k[10]}, strides{k[12], k[13]}, lo{k[14], k[16]}, hi{k[15], k[17]};
  auto dt = static_cast<memory::data_type>(k[18]);
  memory::desc x_md(x_dims, dt, Tag::nhwc), y_md(y_dims, dt, Tag::nhwc),
      w_any(w_dims, dt, Tag::any), w_plain(w_dims, dt, Tag::hwio);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  auto direct = dnnl::algorithm::convolution_direct;
  dnnl::convolution_forward::primitive_desc fwd(Engine(), dnnl::prop_kind::forward_training, direct,
                                                x_md, w_any, y_md, strides, lo, hi, attr);
  auto p = std::make_unique<Primitive>();
  p->x = x_md;
  p->y = y_md;
  p->plain_w = w_plain;
  if (key[0] == kFwd) {
    p->op = dnnl::convolution_forward(fwd);
    p->op_w = fwd.weights_desc();
    p->scratch = fwd.scratchpad_desc();
  } else if (key[0] == kBwdData) {
    dnnl::convolution_backward_data::primitive_desc pd(Engine(), direct, x_md, w_any, y_md,
                                                       strides, lo, hi, fwd, attr);
    p->op = dnnl::convolution_backward_data(pd);
    p->op_w = pd.weights_desc();
    p->scratch = pd.scratchpad_desc();
  } else {
    dnnl::convolution_backward_weights::primitive_desc pd(Engine(), direct, x_md, w_any, y_md,
                                                          strides, lo, hi, fwd, attr);
    p->op = dnnl::convolution_backward_weights(pd);
    p->op_w = pd.diff_weights_desc();
    p->scratch = pd.scratchpad_desc();
  }
  if (p->op_w != p->plain_w) {
    if (key[0] == kBwdWeights) {
      p->to_plain = dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), p->op_w, Engine(),
                                                                p->plain_w));
    } else {
      p->to_op = dnnl::reorder(dnnl::reorder::primitive_desc(Engine(), p->plain_w, Engine(),
                                                             p->op_w));
    }
  }
  slot = std::move(p);
  return *slot;
}

Key MakeKey(Pass pass, ffi::Span<const int64_t> x, ffi::Span<const int64_t> w,
            ffi::Span<const int64_t> y, ffi::Span<const int64_t> strides,
            ffi::Span<const int64_t> pads, memory::data_type dt) {
  Key key{pass};
  for (auto dims : {x, w, y}) key.insert(key.end(), dims.begin(), dims.end());
  key.insert(key.end(), strides.begin(), strides.end());
  key.insert(key.end(), pads.begin(), pads.end());
  key.push_back(static_cast<int64_t>(dt));
  return key;
}

// x, w, y: the convolution's operands as (input, kernel, output) of y = conv(x, w), whichever
// pass reads or writes them.
ffi::Error Run(Pass pass, ffi::AnyBuffer x, ffi::AnyBuffer w, ffi::AnyBuffer y,
               ffi::Span<const int64_t> strides, ffi::Span<const int64_t> pads) {
  auto x_dims = x.dimensions(), w_dims = w.dimensions(), y_dims = y.dimensions();
  if (x_dims.size() != 4 || w_dims.size() != 4 || y_dims.size() != 4 || strides.size() != 2 ||
      pads.size() != 4) {
    return ffi::Error::InvalidArgument("jgan oneDNN convolution: expected 4-D NHWC / HWIO "
                                       "arrays, 2 strides and 4 pads");
  }
  auto type = x.element_type();
  if (w.element_type() != type || y.element_type() != type ||
      (type != ffi::DataType::F32 && type != ffi::DataType::BF16)) {
    return ffi::Error::InvalidArgument("jgan oneDNN convolution: expected float32 or bfloat16 "
                                       "operands, all of one type");
  }
  auto dt = type == ffi::DataType::F32 ? memory::data_type::f32 : memory::data_type::bf16;
  try {
    const Primitive& p = Get(MakeKey(pass, x_dims, w_dims, y_dims, strides, pads, dt));
    void* w_data = w.untyped_data();
    dnnl::stream stream(Engine());
    memory x_mem(p.x, Engine(), x.untyped_data()), y_mem(p.y, Engine(), y.untyped_data());
    memory w_plain(p.plain_w, Engine(), w_data);
    std::unique_ptr<uint8_t[]> w_buf, scratch_buf(new uint8_t[p.scratch.get_size() + 1]);
    memory w_op = w_plain;
    if (p.op_w != p.plain_w) {
      w_buf.reset(new uint8_t[p.op_w.get_size()]);
      w_op = memory(p.op_w, Engine(), w_buf.get());
      if (pass != kBwdWeights) p.to_op.execute(stream, w_plain, w_op);
    }
    memory scratch(p.scratch, Engine(), scratch_buf.get());
    if (pass == kFwd) {
      p.op.execute(stream, {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_op},
                            {DNNL_ARG_DST, y_mem}, {DNNL_ARG_SCRATCHPAD, scratch}});
    } else if (pass == kBwdData) {
      p.op.execute(stream, {{DNNL_ARG_DIFF_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_op},
                            {DNNL_ARG_DIFF_DST, y_mem}, {DNNL_ARG_SCRATCHPAD, scratch}});
    } else {
      p.op.execute(stream, {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_DIFF_WEIGHTS, w_op},
                            {DNNL_ARG_DIFF_DST, y_mem}, {DNNL_ARG_SCRATCHPAD, scratch}});
      if (w_op.get_data_handle() != w_data) p.to_plain.execute(stream, w_op, w_plain);
    }
    stream.wait();
  } catch (const dnnl::error& e) {
    return ffi::Error::Internal(std::string("jgan oneDNN convolution: ") + e.what());
  }
  return ffi::Error::Success();
}

using Any = ffi::AnyBuffer;
using Out = ffi::Result<ffi::AnyBuffer>;
using Ints = ffi::Span<const int64_t>;

ffi::Error ConvFwd(Any x, Any w, Ints strides, Ints pads, Out y) {
  return Run(kFwd, x, w, *y, strides, pads);
}

ffi::Error ConvBwdData(Any dy, Any w, Ints strides, Ints pads, Out dx) {
  return Run(kBwdData, *dx, w, dy, strides, pads);
}

ffi::Error ConvBwdWeights(Any x, Any dy, Ints strides, Ints pads, Out dw) {
  return Run(kBwdWeights, x, *dw, dy, strides, pads);
}

}  // namespace

#define JGAN_CONV_HANDLER(symbol, fn)                                    \
  XLA_FFI_DEFINE_HANDLER_SYMBOL(symbol, fn,                              \
                                ffi::Ffi::Bind()                         \
                                    .Arg<Any>()                          \
                                    .Arg<Any>()                          \
                                    .Attr<Ints>("strides")               \
                                    .Attr<Ints>("pads")                  \
                                    .Ret<Any>());

JGAN_CONV_HANDLER(jgan_conv_fwd, ConvFwd)
JGAN_CONV_HANDLER(jgan_conv_bwd_data, ConvBwdData)
JGAN_CONV_HANDLER(jgan_conv_bwd_weights, ConvBwdWeights)

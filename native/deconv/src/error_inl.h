#pragma once

#include <new>

#include "megforge/deconv.h"

namespace megforge {

template <class Fn>
int guarded(Fn&& fn) noexcept {
  try {
    fn();
    set_last_error("");
    return MGF_OK;
  } catch (const Error& e) {
    set_last_error(e.what());
    return e.status();
  } catch (const std::bad_alloc&) {
    set_last_error("out of memory");
    return MGF_ERR_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    set_last_error(e.what());
    return MGF_ERR_INTERNAL;
  } catch (...) {
    set_last_error("unknown internal error");
    return MGF_ERR_INTERNAL;
  }
}

}  // namespace megforge

#include "addon.h"

static int export_functions(napi_env env, napi_value exports, const addon_function *functions) {
  for (const addon_function *f = functions; f->name != NULL; f++) {
    napi_value fn;
    if (napi_create_function(env, f->name, NAPI_AUTO_LENGTH, f->callback, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, f->name, fn) != napi_ok)
      return -1;
  }
  return 0;
}

NAPI_MODULE_INIT() {
  const addon_function *tables[] = {shm_functions, process_functions, notify_functions,
                                    socket_functions, fdpass_functions};
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    if (export_functions(env, exports, tables[i]) != 0)
      return throw_napi_failure(env, "mpmproxy_native");
  }
  return exports;
}

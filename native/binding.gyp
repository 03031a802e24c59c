{
  "targets": [
    {
      "target_name": "mpmproxy_native",
      "sources": [
        "src/addon.c",
        "src/errors.c",
        "src/values.c",
        "src/shm.c",
        "src/process.c",
        "src/notify.c",
        "src/socket.c",
        "src/fdpass.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-std=gnu11"],
      # Node's common.gypi silences this one; the addon keeps every -Wextra warning.
      "cflags!": ["-Wno-unused-parameter"],
      # shm_open lives in librt before glibc 2.34.
      "libraries": ["-lrt"]
    }
  ]
}

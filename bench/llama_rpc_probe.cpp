// Load a GGUF over llama.cpp RPC devices and build a context, nothing else: llama.cpp logs
// each device's model, KV and compute buffer while it does (the lines
// bench/multidevice_conformance.py reads).  The same calls llama-completion makes for
// `--rpc A,B -ngl N -ts X,Y -c C -fa on|off -ctk T -ctv T`, without its common library.
//
//   g++ -O1 -std=c++17 bench/llama_rpc_probe.cpp -I$LLAMA/include -I$LLAMA/ggml/include \
//       -L$BUILD/bin -lllama -lggml -lggml-base -Wl,-rpath,$BUILD/bin -o $BUILD/bin/llama-rpc-probe
//   llama-rpc-probe MODEL.gguf HOST:PORT[,HOST:PORT...] NGL SPLIT|- N_CTX FA(0|1) KV_TYPE
#include "ggml-backend.h"
#include "llama.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

static std::vector<std::string> split(const std::string & s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        out.push_back(item);
    }
    return out;
}

static ggml_type kv_type(const std::string & name) {
    if (name == "q8_0") return GGML_TYPE_Q8_0;
    if (name == "q4_0") return GGML_TYPE_Q4_0;
    if (name == "f32") return GGML_TYPE_F32;
    return GGML_TYPE_F16;
}

int main(int argc, char ** argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s MODEL ENDPOINTS NGL SPLIT|- N_CTX FA KV_TYPE\n", argv[0]);
        return 2;
    }
    ggml_backend_load_all();
    ggml_backend_reg_t rpc = ggml_backend_reg_by_name("RPC");
    if (!rpc) {
        fprintf(stderr, "llama.cpp was built without GGML_RPC\n");
        return 2;
    }
    typedef ggml_backend_reg_t (*add_server_t)(const char *);
    auto add_server = (add_server_t) ggml_backend_reg_get_proc_address(rpc, "ggml_backend_rpc_add_server");
    for (const auto & ep : split(argv[2])) {
        ggml_backend_register(add_server(ep.c_str()));
    }
    llama_backend_init();

    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = atoi(argv[3]);
    std::vector<float> ts(llama_max_devices(), 0.0f);
    if (strcmp(argv[4], "-") != 0) {
        auto parts = split(argv[4]);
        for (size_t i = 0; i < parts.size() && i < ts.size(); i++) {
            ts[i] = std::stof(parts[i]);
        }
        mp.tensor_split = ts.data();
    }
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    if (!model) {
        fprintf(stderr, "failed to load %s\n", argv[1]);
        return 1;
    }
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = atoi(argv[5]);
    cp.flash_attn_type = atoi(argv[6]) ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = kv_type(argv[7]);
    cp.type_v = kv_type(argv[7]);
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "failed to create the context\n");
        return 1;
    }
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}

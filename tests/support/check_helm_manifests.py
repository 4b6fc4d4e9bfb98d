#!/usr/bin/python3
"""Checks the manifests `helm template` rendered from deploy/helm/kvspill-stack.

usage: check_helm_manifests.py seed|cpu MANIFESTS.yaml NOTES.txt
Asserts the names the production-stack chart uses (so the seed's kubectl commands work),
the selectors, the API key from the Secret, HF_TOKEN, LMCACHE_* env, probes, GPU requests,
volume mounts, the router's discovery flags, and the NOTES warnings for what kvspill
does not honour. Exits 1 naming the first failed check."""
import base64
import sys

import yaml

RELEASE, NS = "vllm", "vllm-stack"


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def by_kind_name(docs):
    out = {}
    for d in docs:
        if d:
            out[(d["kind"], d["metadata"]["name"])] = d
    return out


def get(objs, kind, name):
    check((kind, name) in objs, f"no {kind} {name}; rendered: {sorted(objs)}")
    return objs[(kind, name)]


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def arg_after(args, flag):
    check(flag in args, f"{flag} missing from args {args}")
    return args[args.index(flag) + 1]


def secret_ref(env, name):
    check(name in env, f"env {name} missing")
    ref = env[name].get("valueFrom", {}).get("secretKeyRef")
    check(ref is not None, f"env {name} is not read from a Secret: {env[name]}")
    return ref["name"], ref["key"]


def check_probes(c, what):
    for probe in ("readinessProbe", "livenessProbe"):
        check(probe in c, f"{what}: no {probe}")
    check(c["readinessProbe"]["httpGet"]["path"] == "/health", f"{what}: readiness not /health")


def check_engine(objs, model, secret):
    dep = get(objs, "Deployment", f"{RELEASE}-{model}-deployment-vllm")
    sel = dep["spec"]["selector"]["matchLabels"]
    check(sel.get("release") == RELEASE and sel.get("model") == model, f"engine selector {sel}")
    labels = dep["spec"]["template"]["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in sel.items()), "pod labels do not match selector")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    check(c["args"][0] == "serve", f"engine does not run serve: {c['args']}")
    check_probes(c, "engine")
    check(c["livenessProbe"]["httpGet"]["path"] == "/health", "engine liveness not /health")
    check("startupProbe" in c, "engine: no startupProbe (a model download takes minutes)")
    env = env_of(c)
    check(secret_ref(env, "VLLM_API_KEY") == (secret, "vllmApiKey"), "engine API key ref")
    svc = get(objs, "Service", f"{RELEASE}-{model}-engine-service")
    check(svc["spec"].get("clusterIP") == "None", "engine Service is not headless")
    check(svc["spec"]["selector"] == sel, "engine Service selector differs from Deployment's")
    return dep, c, env


def check_router(objs, service_type, backends, secret):
    svc = get(objs, "Service", f"{RELEASE}-router-service")
    check(svc["spec"]["type"] == service_type, f"router service type {svc['spec']['type']}")
    dep = get(objs, "Deployment", f"{RELEASE}-deployment-router")
    check(svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"], "router selector")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    check(c["args"][0] == "router", f"router does not run router: {c['args']}")
    dns = [c["args"][i + 1] for i, a in enumerate(c["args"]) if a == "--backends-dns"]
    check(dns == backends, f"router --backends-dns {dns}, expected {backends}")
    check_probes(c, "router")
    check(secret_ref(env_of(c), "VLLM_API_KEY") == (secret, "vllmApiKey"), "router API key ref")
    return c


def check_secret(objs, expect):
    s = get(objs, "Secret", f"{RELEASE}-secrets")
    data = {k: base64.b64decode(v).decode() for k, v in s["data"].items()}
    for k, v in expect.items():
        check(data.get(k) == v, f"Secret key {k} = {data.get(k)!r}, expected {v!r}")


def check_seed(objs, notes):
    dep, c, env = check_engine(objs, "mistral", f"{RELEASE}-secrets")
    check_secret(objs, {"vllmApiKey": "my-key", "hf_token_mistral": "<huggingface_token>"})
    check(secret_ref(env, "HF_TOKEN") == (f"{RELEASE}-secrets", "hf_token_mistral"), "HF_TOKEN ref")
    for k, v in {"LMCACHE_USE_EXPERIMENTAL": "True", "LMCACHE_CHUNK_SIZE": "256",
                 "LMCACHE_GDS_PATH": "/mnt/gds/cache", "LMCACHE_CUFILE_BUFFER_SIZE": "4096",
                 "LMCACHE_LOCAL_CPU": "False"}.items():
        check(env.get(k, {}).get("value") == v, f"env {k} not passed through as {v}")
    check(env.get("KVSPILL_MODEL_CACHE", {}).get("value") == "/data/models", "model cache env")
    args = c["args"]
    check(arg_after(args, "--model") == "mistralai/Mistral-Small-3.2-24B-Instruct-2506", "model")
    check(arg_after(args, "--max-model-len") == "16384", "maxModelLen")
    check(arg_after(args, "--device") == "cuda", "GPU replica not on cuda")
    check("--enable-prefix-caching" in args, "enablePrefixCaching not mapped")
    check(arg_after(args, "--max-connections-per-ip") == "0",
          "replicas behind the router keep a per-address connection cap")
    check("--tensor-parallel-size" not in args, "tensorParallelSize passed though not honoured")
    kvt = arg_after(args, "--kv-transfer-config")
    check("LMCacheConnectorV1" in kvt, f"kv-transfer-config not passed: {kvt}")
    res = c["resources"]
    check(res["requests"].get("nvidia.com/gpu") == "2", f"GPU request {res}")
    check(res["limits"].get("nvidia.com/gpu") == "2", f"GPU limit {res}")
    check(str(res["requests"]["cpu"]) == "14" and res["requests"]["memory"] == "64Gi", "cpu/mem")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    check(mounts.get("kv-cache") == "/mnt/gds", f"kv-cache not mounted at /mnt/gds: {mounts}")
    check(mounts.get("mistral-storage") == "/data", f"pvcStorage not mounted at /data: {mounts}")
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    check(vols["kv-cache"]["persistentVolumeClaim"]["claimName"] == "vllm-kv-cache", "kv-cache PVC")
    claim = vols["mistral-storage"]["persistentVolumeClaim"]["claimName"]
    pvc = get(objs, "PersistentVolumeClaim", claim)
    check(pvc["spec"]["resources"]["requests"]["storage"] == "1Ti", "pvcStorage size")
    check(c["image"] == "kvspill:latest", f"vLLM image not replaced: {c['image']}")
    r = check_router(objs, "NodePort", ["vllm-mistral-engine-service.vllm-stack.svc.cluster.local:8000"],
                     f"{RELEASE}-secrets")
    check("--model" not in r["args"] and "volumeMounts" not in r, "roundrobin router reads a model")
    for needle in ("tensorParallelSize 2 is not honoured", "vllmConfig.v1", "--tokenizer-mode mistral",
                   "lmcache/vllm-openai:latest is a vLLM image", "--limit-mm-per-prompt",
                   "names a Hugging Face repository but no file", "services vllm-router-service"):
        check(needle in notes, f"NOTES has no {needle!r}:\n{notes}")


def check_cpu(objs, notes):
    dep, c, env = check_engine(objs, "tiny", f"{RELEASE}-secrets")
    check(dep["spec"]["replicas"] == 2, "replicaCount not mapped")
    check(arg_after(c["args"], "--device") == "cpu", "CPU replica not on cpu")
    check(arg_after(c["args"], "--threads") == "4", "requestCPU not mapped to --threads")
    check("nvidia.com/gpu" not in c["resources"].get("requests", {}), "CPU replica requests a GPU")
    check("HF_TOKEN" not in env, "HF_TOKEN set without hf_token")
    check(env["LMCACHE_LOCAL_DISK"]["value"] == "file:///mnt/kv/cache", "LMCACHE env")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    check(mounts == {"kv-cache": "/mnt/kv", "models": "/models", "tiny-storage": "/data"},
          f"mounts {mounts}")
    check(arg_after(c["args"], "--model") == "/models/tinyllama-1.1b-chat.Q4_K_M.gguf", "model")
    check_secret(objs, {"vllmApiKey": "change-me"})
    r = check_router(objs, "ClusterIP", ["vllm-tiny-engine-service.vllm-stack.svc.cluster.local:8000"],
                     f"{RELEASE}-secrets")
    check(arg_after(r["args"], "--routing-logic") == "prefixaware", "routingLogic not mapped")
    # prefixaware on the chunk keys: the router reads the replicas' model from their volume.
    check(arg_after(r["args"], "--model") == "/models/tinyllama-1.1b-chat.Q4_K_M.gguf",
          f"router has not the replicas' model: {r['args']}")
    rdep = get(objs, "Deployment", f"{RELEASE}-deployment-router")
    check(r["volumeMounts"] == [{"name": "models", "mountPath": "/models", "readOnly": True}],
          f"router mounts {r.get('volumeMounts')}")
    rvols = rdep["spec"]["template"]["spec"]["volumes"]
    check([v["name"] for v in rvols] == ["models"] and
          rvols[0]["persistentVolumeClaim"]["claimName"] == "kvspill-models", f"router volumes {rvols}")
    check("WARNING" not in notes, f"CPU example warns:\n{notes}")


def main():
    which, manifests, notes_file = sys.argv[1:4]
    with open(manifests) as f:
        objs = by_kind_name(yaml.safe_load_all(f))
    with open(notes_file) as f:
        notes = f.read()
    {"seed": check_seed, "cpu": check_cpu}[which](objs, notes)
    print(f"ok: {which}: {len(objs)} objects checked")


main()

"""Engine adapters: one module per engine, one protocol.

Each module exposes the functions the Go worker calls through the host's
trampoline, each taking and returning JSON-able values:

    check(cfg)        import the engine, validate the arguments -> info
    set_workload(w)   read the workload file w["path"], keep its prompts
                      (token IDs) -> {"count", "sha256"}
    load(cfg)         construct the engine -> info (versions, effective
                      config, KV-cache capacity, load time)
    run_batch(cell)   one generate call over prompts [first, first+count)
                      -> {"engine_s"}; the outputs are kept for collect()
    collect(arg)      per-request counts of the last batch, read from what
                      the engine returned, each naming its prompt's index;
                      arg["keep_ids"] keeps the returned token IDs
    close(_)          shut the engine down

The shared logic lives in base.Adapter; a module subclasses it and binds
these functions to one instance with base.expose().
"""

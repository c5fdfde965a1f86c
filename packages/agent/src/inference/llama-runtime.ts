import type { Llama, LlamaLogLevel } from 'node-llama-cpp'
import { LlamaRuntimeUnavailableError } from './errors.ts'
import { llamaModule } from './llama-module.ts'

/**
 * The options every llama.cpp runtime in the agent is created with. They pin node-llama-cpp to
 * the prebuilt binary shipped in its `@node-llama-cpp/<platform>` package: it never clones,
 * downloads or compiles llama.cpp (no network, no toolchain), so its postinstall step is not needed.
 */
export function llamaRuntimeOptions(gpu: boolean) {
  return {
    build: 'never',
    usePrebuiltBinaries: true,
    skipDownload: true,
    gpu: gpu ? 'auto' : false,
    progressLogs: false,
    // llama.cpp warns about quirks of model files that do not affect us; errors still show.
    logLevel: 'error' as LlamaLogLevel,
    // Each context sets its own thread count.
    maxThreads: 0,
  } as const
}

// One runtime per GPU setting for the whole process: runtimes share the native addon, so they are
// never disposed while the process lives; providers dispose only their models and contexts.
const runtimes = new Map<boolean, Promise<Llama>>()

/**
 * The process-wide llama.cpp runtime for a GPU setting, created on first use.
 * @throws LlamaRuntimeUnavailableError when no usable prebuilt binary exists for this platform
 */
export function loadLlamaRuntime(gpu: boolean): Promise<Llama> {
  let runtime = runtimes.get(gpu)
  if (runtime === undefined) {
    runtime = llamaModule()
      .then(({ getLlama }) => getLlama(llamaRuntimeOptions(gpu)))
      .catch((err: unknown) => {
        runtimes.delete(gpu)
        throw new LlamaRuntimeUnavailableError(err)
      })
    runtimes.set(gpu, runtime)
  }
  return runtime
}

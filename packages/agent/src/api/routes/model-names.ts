/**
 * Model names as Ollama tools use them: `name:tag`, with `:latest` implied. A model here is a
 * GGUF file named after it; `name:tag` also finds the file `name-tag` (how catalog pulls are saved).
 */
export function withTag(name: string): string {
  return name.includes(':') ? name : `${name}:latest`
}

/** The name a served model answers to for `requested`, or `requested` itself when none does. */
export function resolveModelName(requested: string, served: string[]): string {
  if (served.includes(requested)) return requested
  const wanted = withTag(requested)
  const tagged = served.find((s) => withTag(s) === wanted)
  if (tagged !== undefined) return tagged
  const dashed = requested.replace(/:/, '-')
  return served.includes(dashed) ? dashed : requested
}

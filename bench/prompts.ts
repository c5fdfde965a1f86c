/**
 * Prompts for inference benches that compare paths to the same model: one shape, the same number
 * of tokens, and words that differ with the index, so that no request finds its prompt in a KV
 * cache that another path's request (or an earlier round) warmed. A slot keeps its cache between
 * requests; the same prompt sent twice would be evaluated once.
 */
const SUBJECTS = ['river', 'forest', 'castle', 'garden', 'harbor', 'desert', 'island', 'market']
const CRAFTS = ['Painter', 'Sailor', 'Baker', 'Farmer', 'Doctor', 'Teacher', 'Builder', 'Singer']

/** The `i`th prompt: the first word changes with every step of `i`, the pair of words repeats after 64. */
export function distinctPrompt(i: number): string {
  const craft = CRAFTS[i % 8]!
  const subject = SUBJECTS[(i + Math.floor(i / 8)) % 8]!
  // The distinct words come first: what two prompts share is only the chat template's opening.
  return `${craft} by the ${subject}, story ${1000 + i}: tell the whole story in many sentences.`
}

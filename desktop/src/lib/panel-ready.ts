/**
 * Marks the moment a panel first shows real data (its first meaningful paint), once per page
 * load: `performance.getEntriesByName('panel-ready:<id>')` reads it, e.g. in the UI tests.
 */
export function markPanelReady(id: string): void {
  const name = `panel-ready:${id}`
  if (performance.getEntriesByName(name).length > 0) return
  // After the frame that draws the data, not before it.
  requestAnimationFrame(() => setTimeout(() => performance.mark(name), 0))
}

import { type Panel, panelFromHash } from './panels.ts'

/** The current panel, kept in the URL's hash so it survives a reload and works under /ui. */
export class PanelRouter {
  current = $state<Panel>(panelFromHash(window.location.hash))
  #onHash = () => (this.current = panelFromHash(window.location.hash))

  start(): () => void {
    window.addEventListener('hashchange', this.#onHash)
    return () => window.removeEventListener('hashchange', this.#onHash)
  }
}

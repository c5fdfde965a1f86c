import { existsSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitepress'
import { sidebarFromFolder } from './sidebar.ts'

const DOCS = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const ROOT = resolve(DOCS, '..')
/** Pages generated at build time (scripts/docs-site.ts) from files elsewhere in the repository. */
const GENERATED_FROM: Record<string, string> = { benchmarks: join(ROOT, 'bench') }
/** Where links to repository files outside docs/ lead: the workflow's own repository. */
const REPO_URL =
  process.env.EDGECODER_REPO_URL ??
  (process.env.GITHUB_REPOSITORY
    ? `${process.env.GITHUB_SERVER_URL ?? 'https://github.com'}/${process.env.GITHUB_REPOSITORY}`
    : 'https://github.com/edgecoder/edgecoder')
const BRANCH = process.env.GITHUB_REF_NAME ?? 'main'

/**
 * A link from a page to a file of the repository outside docs/ (the README, a script, a bench)
 * becomes a link to that file on GitHub. Links within docs/ are left to VitePress, whose dead-link
 * check fails the build; so does a relative link to a file that exists nowhere.
 */
function repoLink(page: string, href: string): string | null {
  if (/^([a-z]+:|#|\/)/i.test(href)) return null
  const [path = '', hash] = href.split('#')
  const pageDir = dirname(join(DOCS, page))
  const inDocs = (p: string) => p.startsWith(DOCS + sep)
  const local = resolve(pageDir, path)
  if (inDocs(local) && (existsSync(local) || existsSync(`${local}.md`))) return null
  // A generated page's links were written relative to its source file.
  const top = page.split('/')[0]!
  const sourceDir = page.includes('/') && GENERATED_FROM[top] ? GENERATED_FROM[top] : pageDir
  const target = resolve(sourceDir, path)
  if (inDocs(target) || !target.startsWith(ROOT + sep) || !existsSync(target)) return null
  return `${REPO_URL}/blob/${BRANCH}/${relative(ROOT, target)}${hash ? `#${hash}` : ''}`
}

export default defineConfig({
  title: 'EdgeCoder',
  description: 'A peer-to-peer mesh for AI coding work',
  base: process.env.DOCS_BASE ?? '/',
  cleanUrls: true,
  lastUpdated: false,
  // Dead links fail the build; links to a local agent (127.0.0.1:4301) are examples, not pages.
  ignoreDeadLinks: 'localhostLinks',
  srcExclude: ['**/README.md'],
  themeConfig: {
    nav: [
      { text: 'Getting started', link: '/getting-started' },
      { text: 'API', link: '/api' },
      { text: 'Source', link: REPO_URL },
    ],
    sidebar: [{ text: 'EdgeCoder', items: sidebarFromFolder(DOCS) }],
    search: { provider: 'local' },
    outline: [2, 3],
  },
  markdown: {
    config(md) {
      md.core.ruler.push('repo_links', (state) => {
        const page = (state.env as { relativePath?: string }).relativePath ?? ''
        for (const token of state.tokens) {
          for (const child of token.children ?? []) {
            if (child.type !== 'link_open') continue
            const to = repoLink(page, child.attrGet('href') ?? '')
            if (to) child.attrSet('href', to)
          }
        }
      })
    },
  },
})

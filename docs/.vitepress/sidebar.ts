import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** Pages in reading order; any other page in docs/ follows, by title. */
const ORDER = [
  'getting-started',
  'desktop',
  'mesh',
  'protocol',
  'routing',
  'tasks',
  'models',
  'sandbox',
  'credits',
  'portal',
  'operating',
  'api',
  'benchmarks',
]

export interface SidebarItem {
  text: string
  link: string
}

/** A page's title: its first `# ` heading, else its file name. */
function titleOf(file: string, fallback: string): string {
  const h1 = readFileSync(file, 'utf8').match(/^# (.+)$/m)
  return h1 ? h1[1]!.replace(/`/g, '').trim() : fallback
}

/**
 * Every page in the docs folder: `name.md`, and `name/index.md` for a folder of pages. A file
 * added to docs/ joins the site without editing this config.
 */
export function sidebarFromFolder(dir: string): SidebarItem[] {
  const pages: { slug: string; file: string }[] = []
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue
    const path = join(dir, entry)
    if (entry.endsWith('.md') && entry !== 'index.md') pages.push({ slug: entry.slice(0, -3), file: path })
    else if (statSync(path).isDirectory() && existsSync(join(path, 'index.md')))
      pages.push({ slug: entry, file: join(path, 'index.md') })
  }
  const rank = (slug: string) => (ORDER.includes(slug) ? ORDER.indexOf(slug) : ORDER.length)
  return pages
    .map((p) => ({ ...p, text: titleOf(p.file, p.slug) }))
    .sort((a, b) => rank(a.slug) - rank(b.slug) || a.text.localeCompare(b.text))
    .map((p) => ({ text: p.text, link: `/${p.slug}` }))
}

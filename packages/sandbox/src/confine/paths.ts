import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { delimiter, dirname, join } from 'node:path'

/** The first executable of that name on PATH, or null. */
export function onPath(name: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  return null
}

/** Resolves a package the way Node does from `fromDir`: nearest node_modules first. */
function resolvePackage(name: string, fromDir: string): string | null {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate)
    if (dirname(dir) === dir) return null
  }
}

/**
 * The directories the sandbox process reads its code from: its own package and, recursively,
 * the npm packages it depends on. Nothing else of the agent's install is visible to it.
 */
export function packageDirs(packageDir: string): string[] {
  const found = new Set<string>([realpathSync(packageDir)])
  const visit = (dir: string): void => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>
      optionalDependencies?: Record<string, string>
    }
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      const at = resolvePackage(name, dir)
      if (!at || found.has(at)) continue
      found.add(at)
      visit(at)
    }
  }
  visit(realpathSync(packageDir))
  return [...found]
}

/**
 * Another commit of this repository, ready to run as its own `bin/edgecoder` would: the commit's
 * whole tree unpacked under bench/out/base-<commit>, with a hard-linked copy of this checkout's
 * node_modules (whose relative workspace links then lead to that tree's packages), its bundle
 * built by its own setup. For before/after benches: `--agent "$(node bench/base.ts main)"`.
 * Run: node bench/base.ts <commit>   (prints the path of that tree's bin/edgecoder)
 */
import { execFileSync, execSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { REPO_ROOT } from '../tests/e2e/harness.ts'

/** The tree of `commit`, unpacked once and reused; returns its root. */
export function checkoutAt(commit: string): string {
  const sha = execFileSync('git', ['rev-parse', '--short', `${commit}^{commit}`], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  }).trim()
  const dir = join(REPO_ROOT, 'bench/out', `base-${sha}`)
  if (existsSync(join(dir, 'bin/edgecoder'))) return dir
  const lock = execFileSync('git', ['show', `${sha}:package-lock.json`], { cwd: REPO_ROOT, encoding: 'utf8' })
  if (lock !== readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8'))
    throw new Error(
      `${commit} (${sha}) has other dependencies than this checkout: its node_modules can't be borrowed`,
    )
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  execSync(`git archive ${sha} | tar -x -C ${dir}`, { cwd: REPO_ROOT })
  execSync(`cp -al ${join(REPO_ROOT, 'node_modules')} ${join(dir, 'node_modules')}`)
  // Its own setup builds its bundle (when that commit has one); npm is not run, the lock being the same.
  execFileSync(join(dir, 'scripts/setup.sh'), ['--quiet'], { cwd: dir, stdio: 'inherit' })
  return dir
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const commit = process.argv[2]
  if (commit === undefined) {
    console.error('usage: node bench/base.ts <commit>')
    process.exit(2)
  }
  console.log(join(checkoutAt(commit), 'bin/edgecoder'))
}

import type { TaskRecord } from '@edgecoder/protocol'
import { afterAll, describe, expect, it } from 'vitest'
import { type AgentProcess, cleanupAgents, waitFor } from './harness.ts'
import { peersOf, tcpAddr } from './mesh-helpers.ts'
import { allTasks, expectMeshed, hops, sleepTask, startNode } from './routing-helpers.ts'
import { readTaskEvents, submitOk } from './tasks-helpers.ts'

afterAll(cleanupAgents)

const TASKS = 100
/** Submitted before the churn; the rest once the newcomers are in the coordinator's view. */
const FIRST = 60

describe('churn during a 100-task run', () => {
  it('completes every task exactly once while workers join and leave, the seed included', async () => {
    const seed = await startNode('worker')
    const boot = (a: AgentProcess) => ['--bootstrap', tcpAddr(a)]
    const [c, w1, w2, w3] = await Promise.all([
      startNode('coordinator', boot(seed)),
      ...Array.from({ length: 3 }, () => startNode('worker', boot(seed))),
    ])
    await expectMeshed([seed, c!, w1!, w2!, w3!])

    const ids: string[] = []
    const submit = async (from: number, to: number) => {
      for (let i = from; i < to; i++) ids.push(await submitOk(c!, sleepTask(0.25, `t${i}`)))
    }
    await submit(0, FIRST)
    const succeeded = async () => (await allTasks(c!)).filter((t) => t.status === 'succeeded').length

    // The churn, paced by progress: a worker killed, two joining (one through a non-seed peer
    // only), the seed leaving, and the killed worker coming back on its data dir.
    const log: string[] = []
    const at = async <T>(n: number, what: string, act: () => Promise<T>): Promise<T> => {
      await waitFor(async () => (await succeeded()) >= n, 120_000, 100)
      log.push(`${what} at ${await succeeded()} done`)
      return act()
    }
    const w1Dir = w1!.dataDir
    await at(15, 'kill -9 a worker', () => w1!.stop('SIGKILL'))
    const joining = at(30, 'a worker joins through a non-seed peer', () => startNode('worker', boot(w2!)))
    const seedDir = seed.dataDir
    await at(45, 'the seed leaves', () => seed.stop('SIGTERM'))
    const w4 = await joining
    const [w5, w1back] = await at(50, 'a worker joins and the killed one comes back', () =>
      Promise.all([startNode('worker', boot(w3!)), startNode('worker', boot(w2!), { dataDir: w1Dir })]),
    )
    // On a loaded machine a newcomer can take long to start; the last tasks wait until the
    // coordinator sees the three, so that the newcomers have work to take.
    const online = async (a: AgentProcess) =>
      (await peersOf(c!)).some((p) => p.peerId === a.ready.peerId && p.state === 'online')
    await waitFor(async () => (await online(w4!)) && (await online(w5!)) && (await online(w1back!)), 60_000)
    await submit(FIRST, TASKS)

    await waitFor(async () => (await succeeded()) === TASKS, 180_000, 250)
    console.log(`routing churn: ${log.join('; ')}`)
    const tasks = (await allTasks(c!)).filter((t) => ids.includes(t.id))
    expect(tasks).toHaveLength(TASKS)

    // Accepted exactly once: one verdict, one completed step, one done event per task.
    for (const t of tasks) {
      expect(t.status).toBe('succeeded')
      expect(t.result!.report).toMatchObject({ outcome: 'passed', passed: 1, failed: 0 })
      expect(hops(t, 'completed')).toHaveLength(1)
    }
    const dones = await Promise.all(
      tasks.map(async (t) => (await readTaskEvents(c!, t.id)).filter((e) => e.type === 'done').length),
    )
    expect(dones.every((n) => n === 1)).toBe(true)

    // The churn was felt: tasks were lost and rerun, and the newcomers took work.
    const reruns = tasks.filter((t) => t.runs > 1)
    expect(reruns.length).toBeGreaterThan(0)
    const executors = new Set(tasks.map((t) => t.executor!.peerId))
    expect(executors.has(w4!.ready.peerId) || executors.has(w5!.ready.peerId)).toBe(true)

    // Ran to success exactly once: every executor (the seed back on its data dir to ask it)
    // holds at most one succeeded copy of each task, and it is the one the submitter accepted.
    const seedBack = await startNode('worker', boot(w2!), { dataDir: seedDir })
    const copies: { at: string; copy: TaskRecord }[] = []
    for (const e of [seedBack, w1back!, w2!, w3!, w4!, w5!])
      for (const copy of await allTasks(e))
        if (copy.origin?.peerId === c!.ready.peerId) copies.push({ at: e.ready.peerId, copy })
    const wins = new Map<string, string[]>()
    for (const { at, copy } of copies)
      if (copy.status === 'succeeded')
        wins.set(copy.origin!.taskId, [...(wins.get(copy.origin!.taskId) ?? []), at])
    const doubles = [...wins].filter(([, at]) => at.length > 1)
    const takenUp = tasks.filter((t) =>
      t.route.some((h) => h.reasons[0]?.startsWith('taken up again')),
    ).length
    console.log(
      `routing churn: ${TASKS} tasks, ${reruns.length} rerun, ${takenUp} taken up again after a lost stream, ${copies.length} copies on ${executors.size} executors, ${doubles.length} run to success twice`,
    )
    for (const [id] of doubles)
      console.log(`routing churn: run twice: ${JSON.stringify(tasks.find((t) => t.id === id)!.route)}`)
    expect(doubles).toEqual([])
    for (const t of tasks) expect(wins.get(t.id)).toEqual([t.executor!.peerId])
    // Six agents and a hundred tasks on two shared cores: a backstop, not a measure.
  }, 240_000)
})

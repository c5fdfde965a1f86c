// Guest-side harness for QuickJS: `test`, `assert`, `console`/`print` and virtual-time
// timers. It is evaluated before the solution, and it takes its own references to the
// built-ins it uses, so a solution that rewrites `Array.prototype.push` or
// `Object.prototype.toString` cannot change how tests are counted: the count itself is
// kept by the host, which these functions report to.

/**
 * Evaluates to a function taking the host's `{ begin, finish, note, write, limit }` and
 * returning `{ install, nextTimer }`.
 */
export const PRELUDE = String.raw`(function (host) {
  'use strict'
  const g = globalThis
  const begin = host.begin, finish = host.finish, note = host.note, write = host.write, limit = host.limit
  const apply = Reflect.apply, keys = Object.keys, hasOwn = Object.hasOwn, protoOf = Object.getPrototypeOf
  const is = Object.is, isArray = Array.isArray, stringify = JSON.stringify, Str = String, Err = Error
  const resolve = Promise.resolve, then = Promise.prototype.then, PromiseCtor = Promise
  const slice = String.prototype.slice, regexTest = RegExp.prototype.test
  const getTime = Date.prototype.getTime, mapEach = Map.prototype.forEach, mapHas = Map.prototype.has
  const mapGet = Map.prototype.get, setHas = Set.prototype.has, setEach = Set.prototype.forEach
  const sizeOf = (proto) => Object.getOwnPropertyDescriptor(proto, 'size').get
  const mapSize = sizeOf(Map.prototype), setSize = sizeOf(Set.prototype)
  const DateProto = Date.prototype, RegExpProto = RegExp.prototype
  const MapProto = Map.prototype, SetProto = Set.prototype, ErrorProto = Error.prototype
  const isPrototypeOf = Object.prototype.isPrototypeOf, defineProperty = Object.defineProperty

  class AssertionError extends Err {
    constructor(message) { super(message); this.name = 'AssertionError' }
  }

  function show(value) {
    try {
      if (typeof value === 'string') return stringify(value)
      if (typeof value === 'function') return '[Function ' + (value.name || 'anonymous') + ']'
      if (typeof value === 'bigint') return Str(value) + 'n'
      if (typeof value === 'object' && value !== null) {
        const text = stringify(value)
        if (text !== undefined) return text
      }
      return Str(value)
    } catch {
      return '[unprintable]'
    }
  }
  function describe(error) {
    try {
      if (typeof error === 'object' && error !== null && 'message' in error) {
        return Str(error.name || 'Error') + ': ' + Str(error.message)
      }
    } catch {}
    return 'thrown: ' + show(error)
  }
  function stackOf(error) {
    try {
      return typeof error === 'object' && error !== null && typeof error.stack === 'string' ? error.stack : ''
    } catch {
      return ''
    }
  }
  function log(...args) {
    let line = ''
    for (let i = 0; i < args.length; i++) {
      const part = typeof args[i] === 'string' ? args[i] : show(args[i])
      line = i === 0 ? part : line + ' ' + part
      if (line.length > limit) break
    }
    // One character over the cap is enough for the host to see the output overflow.
    write(line.length > limit ? apply(slice, line, [0, limit + 1]) : line + '\n')
  }

  function fail(message, fallback) {
    throw new AssertionError(message === undefined ? fallback : Str(message))
  }
  function deepEqual(a, b, depth) {
    if (is(a, b)) return true
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
    if (depth > 500) throw new AssertionError('deepEqual: structure too deep')
    const proto = protoOf(a)
    if (proto !== protoOf(b)) return false
    if (isArray(a)) {
      if (a.length !== b.length) return false
      for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i], depth + 1)) return false
      return true
    }
    if (proto === DateProto) return is(apply(getTime, a, []), apply(getTime, b, []))
    if (proto === RegExpProto) return a.source === b.source && a.flags === b.flags
    if (proto === MapProto || proto === SetProto) {
      const map = proto === MapProto
      if (apply(map ? mapSize : setSize, a, []) !== apply(map ? mapSize : setSize, b, [])) return false
      let same = true
      const each = map
        ? (v, k) => { same = same && apply(mapHas, b, [k]) && deepEqual(v, apply(mapGet, b, [k]), depth + 1) }
        : (v) => { same = same && apply(setHas, b, [v]) }
      apply(map ? mapEach : setEach, a, [each])
      return same
    }
    const ka = keys(a), kb = keys(b)
    if (ka.length !== kb.length) return false
    for (let i = 0; i < ka.length; i++) {
      const k = ka[i]
      if (!hasOwn(b, k) || !deepEqual(a[k], b[k], depth + 1)) return false
    }
    return true
  }
  function matches(error, expected) {
    if (typeof expected === 'function') {
      const isErrorClass = expected === Err || (expected.prototype !== undefined && apply(isPrototypeOf, ErrorProto, [expected.prototype]))
      return isErrorClass ? error instanceof expected : expected(error) === true
    }
    if (protoOf(expected) === RegExpProto) return apply(regexTest, expected, [describe(error)])
    if (typeof expected === 'object' && expected !== null) {
      const ks = keys(expected)
      for (let i = 0; i < ks.length; i++) if (!deepEqual(error[ks[i]], expected[ks[i]], 0)) return false
      return true
    }
    return false
  }

  function assert(condition, message) {
    note()
    if (!condition) fail(message, 'assertion failed: ' + show(condition))
  }
  assert.ok = assert
  assert.AssertionError = AssertionError
  assert.fail = (message) => { note(); fail(message, 'failed') }
  assert.equal = (actual, expected, message) => {
    note()
    if (!is(actual, expected) && actual !== expected) fail(message, 'expected ' + show(expected) + ', got ' + show(actual))
  }
  assert.notEqual = (actual, expected, message) => {
    note()
    if (is(actual, expected) || actual === expected) fail(message, 'expected a value other than ' + show(expected))
  }
  assert.deepEqual = (actual, expected, message) => {
    note()
    if (!deepEqual(actual, expected, 0)) fail(message, 'expected ' + show(expected) + ', got ' + show(actual))
  }
  assert.notDeepEqual = (actual, expected, message) => {
    note()
    if (deepEqual(actual, expected, 0)) fail(message, 'expected a value other than ' + show(expected))
  }
  assert.strictEqual = assert.equal
  assert.deepStrictEqual = assert.deepEqual
  assert.throws = (fn, expected, message) => {
    note()
    if (typeof expected === 'string') { message = expected; expected = undefined }
    let threw = false, error
    try { fn() } catch (e) { threw = true; error = e }
    if (!threw) fail(message, 'expected the function to throw')
    if (expected !== undefined && !matches(error, expected)) fail(message, 'unexpected error: ' + describe(error))
    return error
  }

  function test(name, fn) {
    const id = begin(Str(name))
    let result
    try {
      if (typeof fn !== 'function') throw new TypeError('test(name, fn) needs a function')
      result = fn()
    } catch (error) {
      finish(id, false, describe(error), stackOf(error))
      return
    }
    if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
      apply(then, apply(resolve, PromiseCtor, [result]), [
        () => finish(id, true, '', ''),
        (error) => finish(id, false, describe(error), stackOf(error)),
      ])
    } else {
      finish(id, true, '', '')
    }
  }

  // Timers run in virtual time, once the microtasks are done: nothing really waits.
  const timers = Object.create(null), max = Math.max, toNumber = Number
  let now = 0, nextId = 1
  function addTimer(fn, ms, args, every) {
    const id = nextId++
    timers[id] = { at: now + max(0, toNumber(ms) || 0), fn, args, every }
    return id
  }
  function clearTimer(id) { delete timers[id] }
  function nextTimer() {
    const ids = keys(timers)
    if (ids.length === 0) return false
    let first = ids[0]
    for (let i = 1; i < ids.length; i++) if (timers[ids[i]].at < timers[first].at) first = ids[i]
    const timer = timers[first]
    now = timer.at
    if (timer.every === undefined) delete timers[first]
    else timer.at = now + max(1, timer.every)
    if (typeof timer.fn === 'function') apply(timer.fn, undefined, timer.args)
    return true
  }

  const console = { log, info: log, warn: log, error: log, debug: log }
  const globals = {
    test, assert, console, print: log,
    setTimeout: (fn, ms, ...args) => addTimer(fn, ms, args),
    setInterval: (fn, ms, ...args) => addTimer(fn, ms, args, toNumber(ms) || 0),
    clearTimeout: clearTimer, clearInterval: clearTimer,
  }
  const names = keys(globals)
  function install() {
    for (let i = 0; i < names.length; i++) {
      try {
        defineProperty(g, names[i], { value: globals[names[i]], writable: true, configurable: true, enumerable: false })
      } catch {}
    }
  }
  install()
  return { install, nextTimer }
})`

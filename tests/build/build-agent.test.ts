import { describe, expect, it } from 'vitest'
import { importBuiltinsLazily } from '../../scripts/build-agent.ts'

describe("the bundle's imports of Node builtins", () => {
  it('become process.getBuiltinModule reads of only the names used', () => {
    const out = importBuiltinsLazily(
      [
        '#!/usr/bin/env node',
        'const __a=1;import{fileURLToPath as e,fileURLToPath as t}from"node:url";import r,{parseArgs as i}from"node:util";',
        'import*as h from"node:http";import"node:net";import y from"crypto";import{x as q}from"./chunk-abc.js";',
        'console.log(e,t,r,i,h,y,q)',
      ].join('\n'),
    )
    expect(out).toContain(
      'const __edgecoderBuiltin0=process.getBuiltinModule("node:url"),{fileURLToPath: e,fileURLToPath: t}=__edgecoderBuiltin0;',
    )
    expect(out).toContain('const r=process.getBuiltinModule("node:util"),{parseArgs: i}=r;')
    expect(out).toContain('const h=process.getBuiltinModule("node:http");')
    expect(out).toContain('const __edgecoderBuiltin1=process.getBuiltinModule("node:net");')
    expect(out).toContain('const y=process.getBuiltinModule("crypto");')
    // Our own chunks stay ES imports.
    expect(out).toContain('import{x as q}from"./chunk-abc.js";')
    expect(out).not.toMatch(/import[^;]*from"node:/)
  })

  it('reads no export it was not asked for (node:http would load fetch for its WebSocket)', () => {
    const code = importBuiltinsLazily('import{request as r}from"node:http";export const got=r;')
    const touched: string[] = []
    const http = new Proxy(
      { request: 1, WebSocket: 2 },
      {
        get: (t, k) => {
          touched.push(String(k))
          return Reflect.get(t, k)
        },
      },
    )
    // Evaluated with a stand-in for process.getBuiltinModule that records what is read.
    new Function('process', code.replace('export const got=r;', 'return r;'))({
      getBuiltinModule: () => http,
    })
    expect(touched).toEqual(['request'])
  })
})

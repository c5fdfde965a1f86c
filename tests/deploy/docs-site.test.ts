import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { sidebarFromFolder } from '../../docs/.vitepress/sidebar.ts'
import { escapeText, renderOpenApi } from '../../scripts/docs-openapi.ts'

const dir = mkdtempSync(join(tmpdir(), 'edgecoder-docs-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('docs site sidebar', () => {
  it('lists every page in the folder, known ones in reading order, new ones after by title', () => {
    writeFileSync(join(dir, 'index.md'), '---\nlayout: home\n---\n')
    writeFileSync(join(dir, 'operating.md'), '# Operating a seed node\n')
    writeFileSync(join(dir, 'getting-started.md'), '# Getting started\n')
    writeFileSync(join(dir, 'zebra.md'), '# A page nobody listed\n')
    writeFileSync(join(dir, 'credits.md'), 'no heading here\n')
    mkdirSync(join(dir, 'benchmarks'))
    writeFileSync(join(dir, 'benchmarks', 'index.md'), '# Bench `results`\n')
    mkdirSync(join(dir, 'empty'))
    expect(sidebarFromFolder(dir)).toEqual([
      { text: 'Getting started', link: '/getting-started' },
      { text: 'credits', link: '/credits' },
      { text: 'Operating a seed node', link: '/operating' },
      { text: 'Bench results', link: '/benchmarks' },
      { text: 'A page nobody listed', link: '/zebra' },
    ])
  })
})

describe('API page from the OpenAPI document', () => {
  it('escapes what Markdown tables and Vue templates would read as syntax', () => {
    expect(escapeText('a | b <T> {{ x }}')).toBe('a \\| b &lt;T&gt; &#123;&#123; x &#125;&#125;')
  })

  it('renders each route with its parameters, body fields and answers', () => {
    const page = renderOpenApi({
      info: { title: 'T', version: '1' },
      paths: {
        '/tasks/{id}': {
          get: {
            summary: 'One task',
            parameters: [
              { name: 'id', in: 'path', required: true, schema: { type: 'string', maxLength: 128 } },
            ],
            responses: { '200': { description: 'Default Response' }, '404': { description: 'no such task' } },
          },
        },
        '/tasks': {
          post: {
            summary: 'Submit',
            requestBody: {
              content: {
                'application/json': {
                  schema: {
                    oneOf: [
                      {
                        type: 'object',
                        properties: { kind: { type: 'string', enum: ['run'] }, code: { type: 'string' } },
                        required: ['kind', 'code'],
                      },
                    ],
                  },
                },
              },
            },
          },
        },
      },
    })
    expect(page).toContain('### GET `/tasks/:id`')
    expect(page).toContain('| `id` | path | string | yes | length 0…128 |')
    expect(page).toContain('| 404 | no such task |')
    expect(page).toContain('**Body** (kind = "run"):')
    expect(page).toContain('| `code` | string | yes |  |')
    expect(page).not.toContain('{id}')
  })
})

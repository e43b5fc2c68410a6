import { ServerConnection } from '@jupyterlab/services';

import { MlbenchAPIError, MlbenchClient } from '../api';
import type { ILineageGraph, ILineageNode } from '../api';
import {
  formatBytes,
  isDataUnavailable,
  levelTitle,
  lineageLevels,
  previewCell,
  previewColumns
} from '../data/model';

function apiError(status: number, code: string): MlbenchAPIError {
  return new MlbenchAPIError(new Response('', { status }), code, 'x');
}

describe('isDataUnavailable', () => {
  it('is true for planned (501) and unknown (404 not_found) routes', () => {
    expect(isDataUnavailable(apiError(501, 'not_implemented'))).toBe(true);
    expect(isDataUnavailable(apiError(404, 'not_found'))).toBe(true);
    expect(isDataUnavailable(apiError(404, 'http_error'))).toBe(true);
  });

  it('is false for a missing asset and for other failures', () => {
    expect(isDataUnavailable(apiError(404, 'data_not_found'))).toBe(false);
    expect(isDataUnavailable(apiError(500, 'server_error'))).toBe(false);
    expect(isDataUnavailable(new Error('network'))).toBe(false);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [5 * 1024 ** 3, '5 GiB'],
    [null, '']
  ])('%p -> %p', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
});

describe('preview', () => {
  it('takes the columns from the schema, else from the rows', () => {
    expect(
      previewColumns({
        ref: 't:1',
        kind: 'table',
        columns: [
          { name: 'b', type: 'int64' },
          { name: 'a', type: 'string' }
        ],
        rows: [{ a: 'x', b: 1 }],
        file_count: 1,
        truncated: false
      })
    ).toEqual(['b', 'a']);
    expect(
      previewColumns({
        ref: 't:1',
        kind: 'table',
        rows: [{ a: 1 }, { a: 2, c: 3 }],
        file_count: 1,
        truncated: false
      })
    ).toEqual(['a', 'c']);
  });

  it('shows structures as JSON and null as empty', () => {
    expect(previewCell(null)).toBe('');
    expect(previewCell({ x: [1] })).toBe('{"x":[1]}');
    expect(previewCell(1.5)).toBe('1.5');
  });
});

function node(id: string, label: string): ILineageNode {
  return { id, type: id.startsWith('job:') ? 'job' : 'data', label };
}

describe('lineageLevels', () => {
  // raw:1 -> job prep -> clean:2 -> job train -> model-data:1
  //                               -> job eval (reads clean:2 as well)
  const graph: ILineageGraph = {
    root: 'data:clean:2',
    nodes: [
      node('data:raw:1', 'raw:1'),
      { ...node('job:p', 'prep'), status: 'completed' },
      node('data:clean:2', 'clean:2'),
      node('job:t', 'train'),
      node('job:e', 'eval'),
      node('data:out:1', 'out:1')
    ],
    edges: [
      {
        source: 'data:raw:1',
        target: 'job:p',
        binding: 'raw',
        direction: 'input'
      },
      {
        source: 'job:p',
        target: 'data:clean:2',
        binding: 'clean',
        direction: 'output'
      },
      {
        source: 'data:clean:2',
        target: 'job:t',
        binding: 'data',
        direction: 'input'
      },
      {
        source: 'data:clean:2',
        target: 'job:e',
        binding: 'data',
        direction: 'input'
      },
      {
        source: 'job:t',
        target: 'data:out:1',
        binding: 'out',
        direction: 'output'
      }
    ]
  };

  it('puts ancestors before and descendants after the root, by distance', () => {
    const levels = lineageLevels(graph).map(l => [
      l.level,
      l.nodes.map(n => n.label)
    ]);
    expect(levels).toEqual([
      [-2, ['raw:1']],
      [-1, ['prep']],
      [0, ['clean:2']],
      [1, ['eval', 'train']],
      [2, ['out:1']]
    ]);
  });

  it('is the root alone without edges', () => {
    const alone = { ...graph, nodes: [graph.nodes[2]], edges: [] };
    expect(lineageLevels(alone).map(l => l.level)).toEqual([0]);
  });

  it('titles levels', () => {
    expect(levelTitle(0)).toBe('This version');
    expect(levelTitle(-1)).toBe('Upstream');
    expect(levelTitle(2)).toBe('Downstream (2 steps)');
  });
});

describe('data preview and lineage routes', () => {
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/'
  });
  let makeRequest: jest.SpyInstance;

  beforeEach(() => {
    makeRequest = jest.spyOn(ServerConnection, 'makeRequest');
    makeRequest.mockImplementation(
      async () => new Response('{}', { status: 200 })
    );
  });

  afterEach(() => makeRequest.mockRestore());

  it('asks for a version preview and lineage', async () => {
    const client = new MlbenchClient(settings);
    await client.dataPreview('my data', 3, 20);
    await client.dataLineage('my data', 3);
    expect(makeRequest.mock.calls.map(c => c[0])).toEqual([
      'http://localhost:8888/mlbench/api/v1/data/my%20data/versions/3/preview?limit=20',
      'http://localhost:8888/mlbench/api/v1/data/my%20data/versions/3/lineage'
    ]);
  });
});

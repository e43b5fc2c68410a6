import { ServerConnection } from '@jupyterlab/services';

import {
  EventStream,
  IJobEvent,
  MlbenchAPIError,
  MlbenchClient,
  errorMessage,
  queryString,
  validationProblems
} from '../api';

const settings = ServerConnection.makeSettings({
  baseUrl: 'http://localhost:8888/base/',
  wsUrl: 'ws://localhost:8888/base/',
  token: 'secret',
  appendToken: true
});

function jsonResponse(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

describe('queryString', () => {
  it('repeats arrays and leaves out null and undefined', () => {
    expect(
      queryString({
        status: ['queued', 'running'],
        text: 'a b&c',
        cursor: null,
        limit: 5,
        experiment: undefined
      })
    ).toBe('?status=queued&status=running&text=a%20b%26c&limit=5');
    expect(queryString({})).toBe('');
  });
});

describe('MlbenchClient', () => {
  let makeRequest: jest.SpyInstance;
  const client = new MlbenchClient(settings);

  beforeEach(() => {
    makeRequest = jest.spyOn(ServerConnection, 'makeRequest');
  });

  afterEach(() => {
    makeRequest.mockRestore();
  });

  const call = (i = 0) => ({
    url: makeRequest.mock.calls[i][0] as string,
    init: makeRequest.mock.calls[i][1] as RequestInit
  });

  it('lists jobs with filters as a query string', async () => {
    makeRequest.mockResolvedValue(
      jsonResponse(200, { items: [], next_cursor: null })
    );
    await client.listJobs({ status: ['failed'], text: 'train', limit: 10 });
    expect(call().url).toBe(
      'http://localhost:8888/base/mlbench/api/v1/jobs?status=failed&text=train&limit=10'
    );
    expect(call().init.method).toBe('GET');
  });

  it('submits a job as a JSON body', async () => {
    makeRequest.mockResolvedValue(jsonResponse(201, { id: 'abc' }));
    const job = await client.submitJob({
      notebook_path: 'train.ipynb',
      parameters: { epochs: 3 }
    });
    expect(job.id).toBe('abc');
    expect(call().url).toBe('http://localhost:8888/base/mlbench/api/v1/jobs');
    expect(call().init.method).toBe('POST');
    expect(JSON.parse(String(call().init.body))).toEqual({
      notebook_path: 'train.ipynb',
      parameters: { epochs: 3 }
    });
  });

  it('escapes ids and names in paths', async () => {
    makeRequest.mockImplementation(async () => jsonResponse(200, {}));
    await client.getCompute('gpu box');
    await client.cancelJob('a/b');
    await client.getDataVersion('digits', 2);
    expect(call(0).url).toMatch(/compute\/gpu%20box$/);
    expect(call(1).url).toMatch(/jobs\/a%2Fb\/cancel$/);
    expect(call(1).init.method).toBe('POST');
    expect(call(2).url).toMatch(/data\/digits\/versions\/2$/);
  });

  it('asks for metric histories with repeated run ids and keys', async () => {
    makeRequest.mockResolvedValue(
      jsonResponse(200, { series: [], max_points: 100 })
    );
    await client.metricHistory({
      run_id: ['r1', 'r2'],
      key: ['loss'],
      max_points: 100
    });
    expect(call().url).toMatch(
      /runs\/metric-history\?run_id=r1&run_id=r2&key=loss&max_points=100$/
    );
  });

  it('deletes a job without its run on request (204, no body)', async () => {
    makeRequest.mockResolvedValue(new Response(null, { status: 204 }));
    await expect(client.deleteJob('j1', false)).resolves.toBeUndefined();
    expect(call().url).toMatch(/jobs\/j1\?delete_run=false$/);
    expect(call().init.method).toBe('DELETE');
  });

  it('rejects with MlbenchAPIError carrying code, message, details and hint', async () => {
    makeRequest.mockResolvedValue(
      jsonResponse(400, {
        error: {
          code: 'validation_error',
          message: 'invalid parameters: epochs: expects int, got str',
          hint: 'pass an int',
          details: { errors: ['epochs: expects int, got str', 'lr: unknown'] }
        }
      })
    );
    let error: unknown;
    try {
      await client.submitJob({ notebook_path: 'x.ipynb' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MlbenchAPIError);
    const apiError = error as MlbenchAPIError;
    expect(apiError.code).toBe('validation_error');
    expect(apiError.hint).toBe('pass an int');
    expect(validationProblems(error)).toEqual([
      { message: 'epochs: expects int, got str' },
      { message: 'lr: unknown' }
    ]);
    // the message already names epochs: only the other problem is added
    expect(errorMessage(error)).toBe(
      'invalid parameters: epochs: expects int, got str; lr: unknown'
    );
  });

  it('builds the event stream URL with the resume point and token', () => {
    expect(client.eventStreamUrl(41, ['j1', 'j2'])).toBe(
      'ws://localhost:8888/base/mlbench/api/v1/events/stream?after=41&job_id=j1&job_id=j2&token=secret'
    );
    expect(client.eventStreamUrl()).toBe(
      'ws://localhost:8888/base/mlbench/api/v1/events/stream?token=secret'
    );
  });
});

/**
 * A WebSocket double the test drives by hand (the stream's own logic is what
 * is under test; the server side is covered by the Python and UI tests).
 */
class FakeSocket {
  static sockets: FakeSocket[] = [];
  constructor(readonly url: string) {
    FakeSocket.sockets.push(this);
  }
  readyState = 1;
  sent: string[] = [];
  onmessage: ((msg: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onopen: (() => void) | null = null;
  send(data: string) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
    this.onclose?.();
  }
  receive(message: unknown) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

describe('EventStream', () => {
  beforeEach(() => {
    jest.useFakeTimers();
    FakeSocket.sockets = [];
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  const wsSettings = ServerConnection.makeSettings({
    baseUrl: 'http://h/',
    wsUrl: 'ws://h/',
    WebSocket: FakeSocket as unknown as typeof WebSocket
  });

  const event = (id: number, kind = 'status') => ({
    type: 'event',
    id,
    job_id: 'j1',
    kind,
    data: { status: 'running' },
    created_at: '2026-01-01T00:00:00Z'
  });

  it('emits events once, in order, and resumes after a disconnect', () => {
    const stream = new EventStream(new MlbenchClient(wsSettings));
    const seen: IJobEvent[] = [];
    stream.event.connect((_, e) => seen.push(e));
    const first = FakeSocket.sockets[0];
    expect(first.url).toBe('ws://h/mlbench/api/v1/events/stream');
    first.receive({ type: 'hello', last_event_id: 10, after: null });
    expect(stream.connected).toBe(true);
    first.receive(event(11));
    first.receive(event(11)); // a duplicate is dropped
    first.receive(event(12, 'progress'));
    expect(seen.map(e => e.id)).toEqual([11, 12]);
    expect(seen[0]).not.toHaveProperty('type');

    first.close();
    expect(stream.connected).toBe(false);
    jest.advanceTimersByTime(300);
    // reconnects from the last id seen
    expect(FakeSocket.sockets[1].url).toBe(
      'ws://h/mlbench/api/v1/events/stream?after=12'
    );
    stream.dispose();
  });

  it('asks for a reload on overflow', () => {
    const stream = new EventStream(new MlbenchClient(wsSettings));
    const reset = jest.fn();
    stream.reset.connect(reset);
    const socket = FakeSocket.sockets[0];
    socket.receive({ type: 'hello', last_event_id: 1, after: null });
    socket.receive({ type: 'overflow', last_event_id: 500 });
    expect(reset).toHaveBeenCalledTimes(1);
    expect(stream.lastEventId).toBe(500);
    stream.dispose();
    // disposed: no reconnect
    jest.advanceTimersByTime(20000);
    expect(FakeSocket.sockets).toHaveLength(1);
  });
});

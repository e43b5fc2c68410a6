import { ServerConnection } from '@jupyterlab/services';

import { MlbenchAPIError, requestAPI } from '../request';

const settings = ServerConnection.makeSettings({
  baseUrl: 'http://localhost:8888/lab-base/'
});

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

/**
 * The error a promise rejects with (fails the test if it resolves).
 */
async function rejectionOf(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the request to fail');
}

describe('requestAPI', () => {
  let makeRequest: jest.SpyInstance;

  beforeEach(() => {
    makeRequest = jest.spyOn(ServerConnection, 'makeRequest');
  });

  afterEach(() => {
    makeRequest.mockRestore();
  });

  it('joins the base URL with the mlbench API namespace', async () => {
    makeRequest.mockResolvedValue(
      jsonResponse(200, { status: 'ok', version: '0.1.0' })
    );

    const data = await requestAPI<{ version: string }>(
      'health',
      { method: 'GET' },
      settings
    );

    expect(data.version).toBe('0.1.0');
    expect(makeRequest).toHaveBeenCalledWith(
      'http://localhost:8888/lab-base/mlbench/api/v1/health',
      { method: 'GET' },
      settings
    );
  });

  it('returns undefined for an empty body', async () => {
    makeRequest.mockResolvedValue(new Response(null, { status: 204 }));

    await expect(requestAPI('jobs/1', {}, settings)).resolves.toBeUndefined();
  });

  it('throws a typed error carrying the mlbench error shape', async () => {
    makeRequest.mockResolvedValue(
      jsonResponse(404, {
        error: {
          code: 'not_found',
          message: 'job 42 not found',
          details: { id: '42' }
        }
      })
    );

    const error = await rejectionOf(requestAPI('jobs/42', {}, settings));

    expect(error).toBeInstanceOf(MlbenchAPIError);
    expect(error).toBeInstanceOf(ServerConnection.ResponseError);
    expect(error.name).toBe('MlbenchAPIError');
    expect(error.status).toBe(404);
    expect(error.code).toBe('not_found');
    expect(error.message).toBe('job 42 not found');
    expect(error.details).toEqual({ id: '42' });
  });

  it('maps a 5xx without the mlbench shape to server_error', async () => {
    makeRequest.mockResolvedValue(
      jsonResponse(500, { message: 'Unhandled error', reason: null })
    );

    const error = await rejectionOf(requestAPI('health', {}, settings));

    expect(error).toBeInstanceOf(MlbenchAPIError);
    expect(error.status).toBe(500);
    expect(error.code).toBe('server_error');
    expect(error.message).toBe('Unhandled error');
    expect(error.details).toBeUndefined();
  });

  it('maps a non-JSON 4xx to http_error with the status text', async () => {
    makeRequest.mockResolvedValue(
      new Response('<html>404: Not Found</html>', {
        status: 404,
        statusText: 'Not Found',
        headers: { 'Content-Type': 'text/html' }
      })
    );

    const error = await rejectionOf(requestAPI('health', {}, settings));

    expect(error).toBeInstanceOf(MlbenchAPIError);
    expect(error.status).toBe(404);
    expect(error.code).toBe('http_error');
    expect(error.message).toBe('Not Found');
  });

  it('wraps a failed fetch in a NetworkError', async () => {
    makeRequest.mockRejectedValue(new TypeError('Failed to fetch'));

    const error = await rejectionOf(requestAPI('health', {}, settings));

    expect(error).toBeInstanceOf(ServerConnection.NetworkError);
    expect(error).not.toBeInstanceOf(MlbenchAPIError);
    expect(error.message).toBe('Failed to fetch');
  });
});

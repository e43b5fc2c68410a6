import {
  NEW_ENDPOINT,
  checkDeploy,
  suggestDeployment
} from '../models/deploy-dialog';
import {
  aliasText,
  changedModel,
  dataAssetName,
  hasLineage,
  isValidAlias,
  signatureColumns
} from '../models/model';

describe('models', () => {
  it('reads column and tensor signatures', () => {
    const columns = signatureColumns(
      {
        signature: {
          inputs: [
            { name: 'sepal_length', type: 'double' },
            { name: 'note', type: 'string', required: false }
          ],
          outputs: [
            {
              type: 'tensor',
              'tensor-spec': { dtype: 'float64', shape: [-1, 3] }
            }
          ]
        }
      },
      'inputs'
    );
    expect(columns).toEqual([
      { name: 'sepal_length', type: 'double', required: true },
      { name: 'note', type: 'string', required: false }
    ]);
    const outputs = signatureColumns(
      {
        signature: {
          outputs: [
            {
              type: 'tensor',
              'tensor-spec': { dtype: 'float64', shape: [-1, 3] }
            }
          ]
        }
      },
      'outputs'
    );
    expect(outputs).toEqual([
      { name: '#0', type: 'tensor float64[-1,3]', required: true }
    ]);
    expect(signatureColumns({ signature: null }, 'inputs')).toEqual([]);
  });

  it('names aliases, data assets and lineage', () => {
    expect(aliasText({ prod: 2, champion: 3 })).toBe('@champion=3 @prod=2');
    expect(dataAssetName('data:iris-table:3')).toBe('iris-table');
    expect(dataAssetName('iris')).toBe('iris');
    expect(hasLineage({ data_inputs: [] })).toBe(false);
    expect(hasLineage({ job_id: 'abc', data_inputs: [] })).toBe(true);
  });

  it('follows model events only', () => {
    const event = (kind: string, data: { [key: string]: unknown }) => ({
      id: 1,
      job_id: 'models',
      kind,
      data,
      created_at: ''
    });
    expect(changedModel(event('model', { model: 'iris' }))).toBe('iris');
    expect(changedModel(event('status', { model: 'iris' }))).toBeNull();
  });

  it('checks aliases as the server does', () => {
    expect(isValidAlias('champion')).toBe(true);
    expect(isValidAlias('latest')).toBe(false);
    expect(isValidAlias('Latest')).toBe(false);
    expect(isValidAlias('v2')).toBe(false);
    expect(isValidAlias('2nd')).toBe(false);
  });
});

describe('deploy form', () => {
  const fields = {
    endpoint: NEW_ENDPOINT,
    newEndpoint: 'iris-endpoint',
    deployment: 'blue',
    compute: 'local',
    instanceCount: '1',
    traffic: ''
  };

  it('accepts a new endpoint with a first deployment', () => {
    expect(checkDeploy(fields, {})).toEqual({});
    expect(checkDeploy({ ...fields, traffic: '100' }, {})).toEqual({});
  });

  it('names each problem by its field', () => {
    const problems = checkDeploy(
      {
        ...fields,
        newEndpoint: 'iris',
        deployment: 'bl ue',
        instanceCount: '0',
        traffic: '120'
      },
      { iris: ['blue'] }
    );
    expect(Object.keys(problems).sort()).toEqual([
      'deployment',
      'instanceCount',
      'newEndpoint',
      'traffic'
    ]);
    expect(problems.newEndpoint).toMatch(/exists/);
    expect(
      checkDeploy({ ...fields, newEndpoint: '-x' }, {}).newEndpoint
    ).toMatch(/endpoint name/);
    expect(
      checkDeploy({ ...fields, instanceCount: '1.5' }, {}).instanceCount
    ).toBeTruthy();
  });

  it('ignores the new-endpoint name when deploying to an existing one', () => {
    expect(
      checkDeploy(
        { ...fields, endpoint: 'iris', newEndpoint: '' },
        { iris: [] }
      )
    ).toEqual({});
  });

  it('suggests a free deployment name', () => {
    expect(suggestDeployment([], 'iris', 3)).toBe('blue');
    expect(suggestDeployment(['blue'], 'iris', 3)).toBe('green');
    expect(suggestDeployment(['blue', 'green'], 'iris model', 3)).toBe(
      'iris-model-v3'
    );
  });
});

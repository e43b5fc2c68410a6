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

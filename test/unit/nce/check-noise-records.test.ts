import { checkNoiseRecords, initBackend, resolveTrainingConfig, train } from '../../../src/nce';
import { normalRecords } from '../../helpers/data';

beforeAll(async () => {
  await initBackend();
});

describe('checkNoiseRecords', () => {
  // 30 records, a fifth held out: q is fitted to 24. 40 records trimmed by a tenth: 32 fitted, then 29.
  it.each([
    [30, { noise: { type: 'gmm', components: 24 } }, 25],
    [40, { contaminationTrim: 0.1, noise: { type: 'gmm', components: 29 } }, 30],
  ])('on %i records, passes the largest gmm the trainer fits (%j) and refuses one more component, as the trainer does', async (rows, config, tooMany) => {
    const records = normalRecords(rows, 2, 5);
    const over = { ...config, noise: { type: 'gmm', components: tooMany } };

    expect(() => checkNoiseRecords(resolveTrainingConfig(config), rows)).not.toThrow();
    expect(() => checkNoiseRecords(resolveTrainingConfig(over), rows)).toThrow(expect.objectContaining({ code: 'INSUFFICIENT_DATA', field: 'noise.components' }));

    const trained = await train(records, { ...config, epochs: 1, kernelPartner: false });
    expect(trained.state.noise.fitted).toMatchObject({ type: 'gmm', weights: expect.any(Array) });
    expect((trained.state.noise.fitted as { weights: number[] }).weights).toHaveLength(config.noise.components);
    await expect(train(records, { ...over, epochs: 1, kernelPartner: false })).rejects.toMatchObject({ code: 'INSUFFICIENT_DATA', field: 'noise.components' });
  });

  it('when a mixture holds a gmm of too many components, names that component\'s field and the count that would do', () => {
    const config = resolveTrainingConfig({ noise: { type: 'mixture', components: [{ weight: 1, noise: { type: 'kde' } }, { weight: 1, noise: { type: 'gmm', components: 32 } }] } });

    expect(() => checkNoiseRecords(config, 30)).toThrow(
      expect.objectContaining({
        code: 'INSUFFICIENT_DATA',
        field: 'noise.components.1.noise.components',
        message: 'noise.components.1.noise.components is 32, but a gmm noise needs a record per component to fit, and training on 30 records fits q to 24 (the 6 held out are not fitted): set noise.components.1.noise.components to at most 24, leave it out (BIC then chooses the count), or train on more records',
      }),
    );
  });

  it('when the noise fixes no component count (gaussian, kde, a gmm by BIC), passes on the fewest records training takes', () => {
    for (const noise of [{ type: 'gaussian' }, { type: 'kde', neighbours: 100 }, { type: 'gmm', maxComponents: 32 }, { type: 'uniform' }, { type: 'marginals' }]) {
      expect(() => checkNoiseRecords(resolveTrainingConfig({ noise }), 20)).not.toThrow();
    }
  });
});

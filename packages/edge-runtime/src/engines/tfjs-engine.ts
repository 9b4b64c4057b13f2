import type * as tfTypes from '@tensorflow/tfjs';
import type { ModelFiles } from '../bundle/bundle-files.ts';
import type { InferenceEngine, LoadedModel, TensorDtype, TensorInfo } from './engine.ts';
import { useTfjsBackend, type TfjsBackendName } from './tfjs-backend.ts';

function dtypeOf(name: string | undefined): TensorDtype {
  return (['float32', 'int32', 'bool'] as const).find((known) => known === name) ?? 'float32';
}

/** Runs tfjs LayersModel and GraphModel bundles on one tfjs backend (`wasm`, `cpu` or `tensorflow`). */
export class TfjsEngine implements InferenceEngine {
  readonly name: string;
  private readonly backend: TfjsBackendName;

  constructor(backend: TfjsBackendName) {
    this.backend = backend;
    this.name = `tfjs-${backend}`;
  }

  accepts(format: ModelFiles['format']): boolean {
    return format === 'tfjs';
  }

  async load(model: ModelFiles): Promise<LoadedModel> {
    if (model.format !== 'tfjs') throw new Error(`${this.name} runs tfjs models only, not ${model.format}`);
    const tf = await useTfjsBackend(this.backend);
    const artifacts: tfTypes.io.ModelArtifacts = {
      modelTopology: model.modelJson.modelTopology as tfTypes.io.ModelArtifacts['modelTopology'],
      weightSpecs: model.modelJson.weightsManifest.flatMap((group) => group.weights) as tfTypes.io.WeightsManifestEntry[],
      weightData: model.weightData,
      format: model.modelJson.format,
    };
    const handler = tf.io.fromMemory(artifacts);
    // NOTE: the GraphModel branch has not been run by a test; only LayersModels have.
    const isGraph = model.modelJson.format === 'graph-model';
    const net: tfTypes.LayersModel | tfTypes.GraphModel = isGraph ? await tf.loadGraphModel(handler) : await tf.loadLayersModel(handler);
    const inputs: TensorInfo[] = net.inputs.map((input) => ({
      name: input.name,
      shape: (input.shape ?? []).map((dim) => dim ?? -1),
      dtype: dtypeOf(input.dtype),
    }));
    const outputs: TensorInfo[] = isGraph
      ? (net as tfTypes.GraphModel).outputs.map((output) => ({ name: output.name, shape: (output.shape ?? []).map((dim) => dim ?? -1), dtype: dtypeOf(output.dtype) }))
      : (net as tfTypes.LayersModel).outputs.map((output, index) => ({
          name: (net as tfTypes.LayersModel).outputNames[index] ?? output.name,
          shape: output.shape.map((dim) => dim ?? -1),
          dtype: dtypeOf(output.dtype),
        }));
    const first = inputs[0];
    if (inputs.length !== 1 || !first) {
      net.dispose();
      throw new Error(`${this.name}: the model has ${inputs.length} inputs; the runtime feeds exactly one image tensor`);
    }
    const shape = first.shape.map((dim) => (dim < 0 ? 1 : dim));
    const backend = this.backend;
    return {
      engine: this.name,
      inputs,
      outputs,
      async run(input) {
        await useTfjsBackend(backend);
        const values = input instanceof Float32Array || input instanceof Int32Array ? input : Float32Array.from(input);
        const result = tf.tidy(() => {
          const predicted = net.predict(tf.tensor(values, shape, first.dtype === 'int32' ? 'int32' : 'float32'));
          if (Array.isArray(predicted)) return predicted;
          if (predicted instanceof tf.Tensor) return [predicted];
          return Object.values(predicted);
        });
        try {
          return await Promise.all(result.map(async (tensor) => Float32Array.from(await tensor.data())));
        } finally {
          for (const tensor of result) tensor.dispose();
        }
      },
      liveTensors: () => tf.memory().numTensors,
      dispose: () => net.dispose(),
    };
  }
}

import * as tf from '@tensorflow/tfjs';
import type { FusedActivation, Graph, GraphOp } from './graph.ts';

/**
 * Runs the exporter's float graph with tfjs ops and returns every tensor's value by graph tensor
 * id. Calibration uses it, because batch-norm folding and activation fusion leave intermediate
 * tensors that the tfjs model never computes.
 */
export function runGraph(graph: Graph, input: tf.Tensor): Map<number, tf.Tensor> {
  const values = new Map<number, tf.Tensor>();
  values.set(graph.input.tensor, input);
  for (const op of graph.ops) {
    const inputs = op.inputs.map((id) => {
      const value = values.get(id);
      if (value === undefined) throw new Error(`Graph op of layer '${op.layer}' reads tensor ${id} before it is computed.`);
      return value;
    });
    values.set(op.output, runOp(op, inputs));
  }
  return values;
}

function activate(x: tf.Tensor, activation: FusedActivation): tf.Tensor {
  if (activation === 'RELU') return tf.relu(x);
  if (activation === 'RELU6') return tf.relu6(x);
  return x;
}

function runOp(op: GraphOp, inputs: tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => {
    const x = inputs[0]!;
    switch (op.kind) {
      case 'conv2d': {
        const kernel = tf.tensor4d(op.kernel, op.kernelShape);
        const y = tf.conv2d(x as tf.Tensor4D, kernel, op.strides, op.padding === 'SAME' ? 'same' : 'valid', 'NHWC', op.dilation);
        return activate(tf.add(y, tf.tensor1d(op.bias)), op.activation);
      }
      case 'depthwise_conv2d': {
        const kernel = tf.tensor4d(op.kernel, op.kernelShape);
        const y = tf.depthwiseConv2d(x as tf.Tensor4D, kernel, op.strides, op.padding === 'SAME' ? 'same' : 'valid', 'NHWC', op.dilation);
        return activate(tf.add(y, tf.tensor1d(op.bias)), op.activation);
      }
      case 'dense': {
        const y = tf.matMul(x as tf.Tensor2D, tf.tensor2d(op.kernel, op.kernelShape));
        return activate(tf.add(y, tf.tensor1d(op.bias)), op.activation);
      }
      case 'add':
        return activate(tf.add(x, inputs[1]!), op.activation);
      case 'concat':
        return activate(tf.concat(inputs, op.axis), op.activation);
      case 'average_pool':
        return tf.avgPool(x as tf.Tensor4D, op.filter, 1, 'valid');
      case 'reshape':
        return tf.reshape(x, [x.shape[0]!, ...op.newShape.slice(1)]);
      case 'softmax':
        return tf.softmax(x);
      case 'logistic':
        return tf.sigmoid(x);
      case 'relu':
        return tf.relu(x);
      case 'relu6':
        return tf.relu6(x);
    }
  });
}

import type { FieldPath } from './field-path.ts';
import type { LabelTransform } from './label-transform.ts';

/** Size and fit of the stored model input, and the image topic it comes from. */
export interface ImageSpec {
  /** Image topic of a recording (sensor_msgs/Image or sensor_msgs/CompressedImage); null for folders. */
  topic: string | null;
  width: number;
  height: number;
  /** `fill` stretches, `cover` crops to the aspect ratio, `contain` pads with black. */
  fit: 'fill' | 'cover' | 'contain';
}

/** Source and transforms of one head's label. */
export interface LabelSpec {
  head: string;
  /** Topic in a recording; null for image folders. */
  topic: string | null;
  /** Field of the topic's message, or column of the folder's label file. */
  field: string;
  path: FieldPath;
  transforms: LabelTransform[];
  /** Largest time difference between the image and the label message that still matches, in ns. */
  toleranceNs: bigint;
}

/** A scenario tag: a fixed word, or one read from a topic's latest message before each image. */
export type TagSpec =
  | { kind: 'static'; value: string }
  | { kind: 'topic'; topic: string; field: string; path: FieldPath; transforms: LabelTransform[] };

/** Grouping of samples into split keys, each of which gets one split. */
export type SplitSpec =
  | { by: 'recording' }
  | { by: 'segment'; seconds: number }
  | { by: 'file' }
  | { by: 'column'; column: string };

/** Location and layout of an image folder's label file. */
export interface FolderSpec {
  /** Label file relative to the folder; null to look for data.txt, labels.txt or one .csv file. */
  labelFile: string | null;
  /** Column of a CSV label file that contains the image path; null for `name value` files. */
  pathColumn: string | null;
}

/** A validated mapping file: how topics or folder files become samples. */
export interface Mapping {
  /** File the mapping came from, for messages. */
  source: string;
  image: ImageSpec;
  labels: LabelSpec[];
  tags: TagSpec[];
  /** Time that topics are matched on: the log (receive) time or the message's header.stamp. */
  time: 'log' | 'header';
  split: SplitSpec;
  /** Drop images that miss any label instead of storing them with that head masked. */
  requireAllLabels: boolean;
  folder: FolderSpec | null;
}

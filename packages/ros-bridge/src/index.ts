export * from './recording/recording-reader.ts';

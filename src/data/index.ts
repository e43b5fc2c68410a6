export { DataSection, IDataSectionProps } from './data-section';
export * from './model';
export { DataAssetView } from './asset-view';

export { inspectorRoutes, drawChart, type InspectorOptions } from './routes.ts';
export { serveInspector, type ServeInspectorOptions } from './serve.ts';
export { chartSource, pregenerated, type ChartDrawing, type PregeneratedDrawing } from './drawing.ts';
export { hostEventStream, type EventStreamOptions } from './events.ts';
export { deriveChart, allStates, type Chart, type ChartState, type ChartTransition, type StateKind } from './chart.ts';
export { chartLayout, layoutChart, type ChartLayout } from './layout.ts';
export { renderChartSvg } from './svg.ts';
export { KEEPALIVE_DRAWING } from './drawing.generated.ts';

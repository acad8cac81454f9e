// The venue's geometry, fetched once per page: GET /api/venues/{venue}/chart, revalidated with
// its ETag (the browser's cache answers a 304 with the copy it has), made into the page's model.
import { buildChartModel } from './chart-model.js';

const loaded = new Map(); // venue name -> Promise of its model

/** The chart model of a venue; a failed fetch is forgotten, so the next call tries again. */
export function loadChart(name) {
  if (!loaded.has(name)) {
    const url = `/api/venues/${encodeURIComponent(name)}/chart`;
    const promise = fetch(url, { cache: 'no-cache', headers: { Accept: 'application/json' } })
      .then(async (res) => {
        if (!res.ok) throw new Error(`${url} answered ${res.status}`);
        return buildChartModel(await res.json());
      });
    promise.catch(() => loaded.delete(name));
    loaded.set(name, promise);
  }
  return loaded.get(name);
}

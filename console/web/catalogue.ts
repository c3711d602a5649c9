// The console server's contract catalogue, fetched once per page load: it changes only with
// the code.
import { consoleCall, type Session } from './api.js';
import type { Catalogue } from './lib/model.js';
import { useLoad, type Loaded } from './ui.js';

let catalogueCache: Promise<Catalogue> | undefined;

export function useCatalogue(session: Session): Loaded<Catalogue> {
  const [loaded] = useLoad(() => {
    catalogueCache ??= consoleCall<Catalogue>(session.credential, '/api/catalogue').then((r) => {
      if (!r.ok) {
        catalogueCache = undefined;
        throw new Error(r.message);
      }
      return r.data;
    });
    return catalogueCache;
  }, []);
  return loaded;
}

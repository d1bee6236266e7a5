import { setTimeout as sleep } from 'node:timers/promises';
import type { Router } from '../../src/index.js';

/** How long "operating the light" takes, in ms: `LIGHT_DELAY_MS`, default 2000 as in the seed. */
export function lightDelay(): number {
  return Number(process.env.LIGHT_DELAY_MS ?? 2000);
}

/**
 * The seed's `/light/{status}` route: for each message (a light's address), pretend to switch the
 * light, then answer `the light has turned on|off`, or `invalid params` for any other status.
 */
export function addLightRoutes(router: Router, delay = lightDelay()): Router {
  return router.route('/light/{status}', async (ws, params) => {
    for await (const message of ws) {
      console.log(`got a message:${message}`);
      console.log(params.status);
      await sleep(delay); // pretend to operate the light
      if (params.status === 'on') await ws.send('the light has turned on');
      else if (params.status === 'off') await ws.send('the light has turned off');
      else await ws.send('invalid params');
    }
  });
}

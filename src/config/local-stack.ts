/**
 * Where the local stack (`npm run stack -- up`) puts things. The single source for the stack's
 * scripts and for the defaults the agent and the web server use when no LiveKit URL is given.
 * livekit.yaml and stack/sip.yaml carry the same values; test/unit/local-stack.test.ts keeps them
 * in step.
 */
export type NetworkMode = 'netns' | 'loopback';

export interface LocalStackLayout {
  mode: NetworkMode;
  /** Address every service binds and announces (ICE candidates, SIP Contact and SDP). */
  serviceIp: string;
  /** Host-side address of the veth pair (netns mode only), from which a host softphone dials. */
  hostIp?: string;
  namespace?: string;
  ports: {
    livekitHttp: number;
    livekitRtcTcp: number;
    livekitRtcUdp: number;
    redis: number;
    sip: number;
    speech: number;
    web: number;
  };
}

export const LOCAL_API_KEY = 'devkey';
/** A development secret for the local server only; never used against LiveKit Cloud. */
export const LOCAL_API_SECRET = 'devsecret_switchboard_local_0123456789';

const PORTS: LocalStackLayout['ports'] = {
  livekitHttp: 7880,
  livekitRtcTcp: 7881,
  livekitRtcUdp: 7882,
  redis: 6390,
  sip: 5060,
  speech: 8090,
  web: 8080,
};

export function localStackLayout(mode: NetworkMode): LocalStackLayout {
  switch (mode) {
    case 'netns':
      return {
        mode,
        serviceIp: '10.77.0.2',
        hostIp: '10.77.0.1',
        namespace: 'switchboard',
        ports: PORTS,
      };
    case 'loopback':
      return { mode, serviceIp: '127.0.0.1', ports: PORTS };
  }
}

export function localLivekitUrl(layout: LocalStackLayout): string {
  return `ws://${layout.serviceIp}:${layout.ports.livekitHttp}`;
}

export function localSpeechUrl(layout: LocalStackLayout): string {
  return `http://${layout.serviceIp}:${layout.ports.speech}/v1`;
}

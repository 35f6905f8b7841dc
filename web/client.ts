/**
 * The browser caller: joins a fresh room with a token from the project's token endpoint (which
 * dispatches the agent), publishes the microphone and plays the agent. It also measures the
 * agent's audio with WebAudio and exposes the figures on `window.switchboard` for the tests.
 * The "call me back" form asks the callback endpoint to have the agent phone a number instead.
 */
import {
  Room,
  RoomEvent,
  TokenSource,
  Track,
  type RemoteTrack,
  type RemoteTrackPublication,
} from 'livekit-client';

interface CallState {
  phase: 'idle' | 'connecting' | 'connected' | 'ended' | 'failed';
  roomName?: string;
  agentJoined: boolean;
  agentAudio: { frames: number; loudFrames: number; peakRms: number; firstLoudAtMs?: number };
  /** Loud 50 ms windows per received track name (e.g. the agent's voice, hold music, a bridged human). */
  loudFramesByTrack: Record<string, number>;
  /**
   * When audio was loud, in ms since the call button was pressed (20 ms windows): what the page
   * heard from the agent, and what its own microphone sent. Turn timings are measured on these.
   */
  loudAtMs: { agent: number[]; mic: number[] };
  error?: string;
}

declare global {
  interface Window {
    switchboard: CallState;
  }
}

/** -40 dBFS, the same speech threshold the phone tests use on RTP. */
const LOUD_RMS = 0.01;

const state: CallState = {
  phase: 'idle',
  agentJoined: false,
  agentAudio: { frames: 0, loudFrames: 0, peakRms: 0 },
  loudFramesByTrack: {},
  loudAtMs: { agent: [], mic: [] },
};
let callStartedAt = performance.now();
window.switchboard = state;

const statusEl = document.getElementById('status') as HTMLElement;
const callButton = document.getElementById('call') as HTMLButtonElement;
const hangupButton = document.getElementById('hangup') as HTMLButtonElement;
const levelBar = document.querySelector('#level > div') as HTMLElement;

let room: Room | undefined;

function setPhase(phase: CallState['phase'], detail = ''): void {
  state.phase = phase;
  statusEl.textContent = detail === '' ? phase : `${phase}: ${detail}`;
  callButton.disabled = phase === 'connecting' || phase === 'connected';
  hangupButton.disabled = phase !== 'connected';
}

async function call(): Promise<void> {
  callStartedAt = performance.now();
  setPhase('connecting');
  const tokens = TokenSource.endpoint('/api/token');
  // ?agent=<name> asks for another of the agents the server offers (WEB_AGENTS).
  const agentName = new URLSearchParams(location.search).get('agent') ?? undefined;
  const { serverUrl, participantToken } = await tokens.fetch({
    participantName: 'Browser caller',
    ...(agentName === undefined ? {} : { agentName }),
  });
  room = new Room();
  room.on(RoomEvent.ParticipantConnected, (p) => {
    if (p.isAgent) state.agentJoined = true;
  });
  room.on(RoomEvent.TrackSubscribed, (track: RemoteTrack, publication: RemoteTrackPublication) => {
    if (track.kind !== Track.Kind.Audio) return;
    // Chrome delivers remote WebRTC audio to WebAudio only while a media element plays it too.
    document.body.appendChild(track.attach());
    measure(track.mediaStreamTrack, publication.trackName);
    timeLoudness(track.mediaStreamTrack, state.loudAtMs.agent);
  });
  room.on(RoomEvent.Disconnected, () => setPhase('ended'));
  await room.connect(serverUrl, participantToken);
  state.roomName = room.name;
  for (const p of room.remoteParticipants.values()) if (p.isAgent) state.agentJoined = true;
  await room.localParticipant.setMicrophoneEnabled(true);
  const mic = room.localParticipant.getTrackPublication(Track.Source.Microphone)?.track;
  if (mic !== undefined) timeLoudness(mic.mediaStreamTrack, state.loudAtMs.mic);
  setPhase('connected');
}

function measure(track: MediaStreamTrack, name: string): void {
  const audio = new AudioContext();
  const analyser = audio.createAnalyser();
  analyser.fftSize = 1024;
  audio.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const started = performance.now();
  const timer = setInterval(() => {
    if (track.readyState === 'ended') {
      clearInterval(timer);
      return;
    }
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    const rms = Math.sqrt(sum / samples.length);
    const a = state.agentAudio;
    a.frames++;
    a.peakRms = Math.max(a.peakRms, rms);
    if (rms > LOUD_RMS) {
      a.loudFrames++;
      state.loudFramesByTrack[name] = (state.loudFramesByTrack[name] ?? 0) + 1;
      a.firstLoudAtMs ??= performance.now() - started;
    }
    levelBar.style.width = `${Math.min(100, rms * 400)}%`;
  }, 50);
}

/** RMS of a track's latest 20 ms window, polled every 20 ms; loud windows' times go to `into`. */
function timeLoudness(track: MediaStreamTrack, into: number[]): void {
  const audio = new AudioContext();
  const analyser = audio.createAnalyser();
  analyser.fftSize = 1024;
  audio.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    if (track.readyState === 'ended') {
      clearInterval(timer);
      return;
    }
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    if (Math.sqrt(sum / samples.length) > LOUD_RMS) into.push(performance.now() - callStartedAt);
  }, 20);
}

callButton.addEventListener('click', () => {
  call().catch((err: unknown) => {
    state.error = err instanceof Error ? err.message : String(err);
    setPhase('failed', state.error);
  });
});
hangupButton.addEventListener('click', () => {
  void room?.disconnect();
});

const callbackForm = document.getElementById('callback') as HTMLFormElement;
const callbackNumber = document.getElementById('callback-number') as HTMLInputElement;
const callbackSubmit = document.getElementById('callback-submit') as HTMLButtonElement;
const callbackStatus = document.getElementById('callback-status') as HTMLElement;

/** Asks for a call back; the answer (accepted, or why not) is announced in the status line. */
async function askCallback(): Promise<string> {
  const number = callbackNumber.value.trim();
  if (number === '') {
    callbackNumber.setAttribute('aria-invalid', 'true');
    callbackNumber.focus();
    return 'Enter the number to call, with + and the country code.';
  }
  const agent = new URLSearchParams(location.search).get('agent') ?? undefined;
  const res = await fetch('/api/callback', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ number, ...(agent === undefined ? {} : { agent }) }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    code?: string;
    error?: string;
    campaign?: string;
    number?: string;
  };
  if (res.status === 202) {
    callbackNumber.removeAttribute('aria-invalid');
    return `We will call ${body.number ?? 'you'} in a moment (reference ${body.campaign ?? '?'}).`;
  }
  if (body.code === 'callback_request_invalid') {
    callbackNumber.setAttribute('aria-invalid', 'true');
    callbackNumber.focus();
  }
  return `Not possible: ${body.error ?? `the server answered ${res.status}`}`;
}

callbackForm.addEventListener('submit', (event) => {
  event.preventDefault();
  callbackSubmit.disabled = true;
  callbackStatus.textContent = 'Asking for a call back...';
  void askCallback()
    .catch((err: unknown) => `Not possible: ${err instanceof Error ? err.message : String(err)}`)
    .then((text) => {
      callbackStatus.textContent = text;
    })
    .finally(() => {
      callbackSubmit.disabled = false;
    });
});

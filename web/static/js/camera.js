// The tablet's camera and the frames it sends: ~5 a second, downscaled JPEG, and never more
// than one frame waiting for its answer (a slow server or network gets fewer frames, not a
// queue of stale ones).
import { defaultIntrinsics } from "./pose.js";
import { request } from "./socket.js";

const FRAME_INTERVAL_MS = 200;
const MAX_SIDE = 640;
const JPEG_QUALITY = 0.7;

export class CameraFeed {
  constructor(video, socketProvider, { onAck, onError } = {}) {
    this.video = video;
    this.socketProvider = socketProvider;
    this.onAck = onAck || (() => {});
    this.onError = onError || (() => {});
    this.canvas = document.createElement("canvas");
    this.stream = null;
    this.timer = null;
    this.inFlight = false;
    this.sent = 0;
    this.answered = 0;
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    this.video.srcObject = this.stream;
    await this.video.play();
    if (!this.video.videoWidth) {
      await new Promise((resolve) => this.video.addEventListener("loadedmetadata", resolve, { once: true }));
    }
    const scale = Math.min(1, MAX_SIDE / Math.max(this.video.videoWidth, this.video.videoHeight));
    this.width = Math.round((this.video.videoWidth * scale) / 2) * 2;
    this.height = Math.round((this.video.videoHeight * scale) / 2) * 2;
    this.canvas.width = this.width;
    this.canvas.height = this.height;
    this.intrinsics = defaultIntrinsics(this.width, this.height);
    this.timer = setInterval(() => this.tick(), FRAME_INTERVAL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }

  get running() {
    return Boolean(this.stream);
  }

  async tick() {
    const socket = this.socketProvider();
    if (this.inFlight || !socket?.connected || this.video.readyState < 2) return;
    this.inFlight = true;
    try {
      const context = this.canvas.getContext("2d");
      context.drawImage(this.video, 0, 0, this.width, this.height);
      const blob = await new Promise((resolve) => this.canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
      const image = await blob.arrayBuffer();
      this.sent += 1;
      const ack = await request(socket, "frame", { image, intrinsics: this.intrinsics }, 5000);
      this.answered += 1;
      if (ack?.ok) this.onAck(ack);
      else if (ack?.error?.code !== "dropped") this.onError(ack?.error);
    } finally {
      this.inFlight = false;
    }
  }
}

/** Traces: classic pcap and pcapng writers, sinks and port capture wiring (no fs here; see file-sink.adapter.ts). */
export { PcapWriter, PCAP_MAGIC_NS, LINKTYPE_ETHERNET, type PcapOptions } from './pcap.js';
export { PcapngWriter, type PcapngOptions, type InterfaceOptions, type PacketDirection } from './pcapng.js';
export { MemorySink, type ByteSink } from './sink.js';
export { enablePcap, capturePorts, type CaptureMode, type PortCapture } from './capture.js';

/** Events of the cluster example, shared by the server processes and the demo clients. */
export type ClusterEvents = {
  nick: (nick: string) => string;
  say: (text: string) => string;
  said: (m: { text: string; from: string; via: string }) => void;
  who: () => { nick: string; node: string; transport: string }[];
};

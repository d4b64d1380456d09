/** Events of the cluster example, shared by the server processes and the demo clients. */
export type ClusterEvents = {
  nick: (nick: string) => string;
  say: (text: string) => string;
  said: (m: { text: string; from: string; via: string }) => void;
  who: () => { nick: string; node: string; transport: string }[];
  /** A private line to one nick, on whichever node it is (answered with that node's name). */
  dm: (m: { to: string; text: string }) => string;
  /** Asks another client a question through its node; answered with that client's reply. */
  ask: (m: { to: string; question: string }) => string;
  /** Server → client: a private line. */
  private: (m: { text: string; from: string }) => void;
  /** Server → client request: a question from another client. */
  question: (q: string) => string;
};

import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

/** Small shared pieces: an error line, and a confirmation dialog (the native <dialog>, styled by Pico). */

export function ErrorNote({ message }: { message: string }) {
  return (
    <p role="alert" class="error">
      {message}
    </p>
  );
}

export function Confirm(props: { title: string; children: ComponentChildren; confirmLabel: string; onConfirm: () => void; onCancel: () => void; danger?: boolean }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog ref={dialog} onCancel={props.onCancel}>
      <article>
        <h3>{props.title}</h3>
        {props.children}
        <footer>
          <button class="secondary" onClick={props.onCancel}>
            Cancel
          </button>{' '}
          <button class={props.danger ? 'danger' : ''} onClick={props.onConfirm}>
            {props.confirmLabel}
          </button>
        </footer>
      </article>
    </dialog>
  );
}

export const shortId = (id: string | undefined) => (id ? `${id.slice(0, 10)}…` : '—');
export const when = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString() : '—');

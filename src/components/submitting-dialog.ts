/**
 * A form dialog whose OK button submits and closes only once the server
 * accepted: while a submission is under way a second click does nothing;
 * when it is refused the dialog stays open and the first error of the form
 * (its `.mlbench-Form-error`) is scrolled into view.
 */
import { Dialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';

export class SubmittingDialog<T> extends Dialog<T | null> {
  constructor(options: SubmittingDialog.IOptions<T>) {
    const buttons = [
      Dialog.cancelButton({ label: options.cancelLabel }),
      Dialog.okButton({
        label: options.okLabel,
        ariaLabel: options.okAriaLabel ?? options.okLabel
      })
    ];
    super({
      title: options.title,
      body: Object.assign(options.body, { getValue: () => this._value }),
      buttons
    });
    this._submit = options.submit;
    this._buttonList = buttons;
    this.addClass('mlbench-SubmitDialog');
    for (const name of options.classNames ?? []) {
      this.addClass(name);
    }
  }

  resolve(index?: number): void {
    const i = index ?? this._buttonList.length - 1;
    if (!this._buttonList[i]?.accept || this._value !== null) {
      super.resolve(index);
      return;
    }
    if (this._submitting) {
      return;
    }
    this._submitting = true;
    void this._submit()
      .then(value => {
        if (value !== null) {
          this._value = value;
          super.resolve(i);
        } else {
          this.node
            .querySelector('.mlbench-Form-error')
            ?.scrollIntoView({ block: 'nearest' });
        }
      })
      .finally(() => {
        this._submitting = false;
      });
  }

  private _submit: () => Promise<T | null>;
  private _buttonList: Dialog.IButton[];
  private _submitting = false;
  private _value: T | null = null;
}

export namespace SubmittingDialog {
  export interface IOptions<T> {
    title: string;
    body: ReactWidget;
    okLabel: string;
    okAriaLabel?: string;
    cancelLabel: string;
    classNames?: string[];
    /** The accepted value, or null when refused (the form shows why). */
    submit: () => Promise<T | null>;
  }
}

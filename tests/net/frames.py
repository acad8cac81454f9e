"""Judges a viewer's frames (tests/net/watch.mjs output) around a cut between its edge and NATS.

Usage: frames.py FRAMES CUT_MS HEAL_MS SEAT --settled
           exit 0 once the seat shows held after the heal and STATUS live:true came, else 1
       frames.py FRAMES CUT_MS HEAL_MS SEAT --held-answer JSON
           print the figures and the verdict; exit 1 on a broken promise
"""
import json
import os
import sys

# The promises (docs/reliability.md); the test command passes looser ones, for a busy machine.
NOTICE_BOUND_MS = int(os.environ.get('NOTICE_BOUND_MS', '5000'))
CONVERGE_BOUND_MS = int(os.environ.get('CONVERGE_BOUND_MS', '3000'))


def frames(path):
    with open(path) as f:
        for line in f:
            at, _, rest = line.rstrip('\n').partition(' ')
            if rest.startswith('CLOSED'):
                yield int(at), {'type': 'CLOSED', 'data': rest}
                continue
            try:
                yield int(at), json.loads(rest)
            except ValueError:
                continue


def shows_held(frame, seat):
    data = frame.get('data') or {}
    if frame.get('type') == 'SEAT_UPDATE':
        return data.get('seat_id') == seat and data.get('status') == 1
    if frame.get('type') == 'VENUE_STATE':
        return any(s.get('id') == seat and s.get('status') == 1 for s in data.get('seats') or [])
    return False


def figures(path, cut_ms, heal_ms, seat):
    notice = held = live = closed = None
    for at, frame in frames(path):
        kind, data = frame.get('type'), frame.get('data') or {}
        if kind == 'CLOSED':
            closed = closed or at
        elif kind == 'STATUS' and data.get('live') is False and at >= cut_ms and notice is None:
            notice = at - cut_ms
        elif kind == 'STATUS' and data.get('live') is True and notice is not None and live is None:
            live = at - heal_ms
        elif held is None and shows_held(frame, seat):
            held = at - heal_ms
    return notice, held, live, closed


def seconds(ms):
    return 'never' if ms is None else f'{ms / 1000:.2f} s'


def main():
    path, cut_ms, heal_ms, seat, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    notice, held, live, closed = figures(path, cut_ms, heal_ms, seat)
    if mode == '--settled':
        sys.exit(0 if held is not None and live is not None else 1)
    answer = sys.argv[6]
    broken = []
    if '"ok":true' not in answer:
        broken.append(f'the hold during the cut was answered {answer}')
    if notice is None or notice > NOTICE_BOUND_MS:
        broken.append(f'STATUS live:false came {seconds(notice)} after the cut (bound {seconds(NOTICE_BOUND_MS)})')
    if held is None or held > CONVERGE_BOUND_MS:
        broken.append(f'the seat held during the cut showed {seconds(held)} after the heal '
                      f'(bound {seconds(CONVERGE_BOUND_MS)})')
    if live is None:
        broken.append('no STATUS live:true after the heal')
    if closed is not None:
        broken.append('the viewer\'s socket closed')
    # The edge fetches what it missed from the booking service while NATS is away, so the seat
    # may show before the heal.
    shown = (f'shown {seconds(held)} after the heal' if held is None or held >= 0
             else f'shown during the cut, {seconds(held + heal_ms - cut_ms)} after it began')
    print(f'edge-nats-cut: STATUS live:false {seconds(notice)} after the cut; {seat}, held during the cut, '
          f'{shown}; STATUS live:true {seconds(live)} after the heal; '
          f'verdict: {"pass" if not broken else "FAIL: " + "; ".join(broken)}')
    sys.exit(1 if broken else 0)


if __name__ == '__main__':
    main()

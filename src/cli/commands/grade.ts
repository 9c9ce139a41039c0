import { z } from 'zod';
import { gradeCases, readGradingCases } from '../../math/cases.js';
import { EXTRACT_POLICIES } from '../../math/extract.js';
import { gradeAnswer, type GradeOptions } from '../../math/grade.js';
import { intFlag, numberFlag, parseCommandArgs } from '../args.js';
import { UsageError, type Command } from '../command.js';

const schema = z.object({
  cases: z.string().min(1).optional(),
  pred: z.string().optional(),
  gold: z.string().optional(),
  timeLimit: intFlag().positive().optional(),
  relTol: numberFlag().nonnegative().optional(),
  extract: z.enum(EXTRACT_POLICIES).optional(),
});

const usage = `Usage: threadweaver grade --cases FILE.jsonl [options]
       threadweaver grade --pred ANSWER --gold ANSWER [options]

Grade maths answers for equivalence (see docs/grading.md for the rules).

  --cases FILE      JSONL rows {"pred", "gold", "equal"}; prints JSON
                    {total, agree, disagreements: [{line, pred, gold, expected, got, reason}]}
  --pred, --gold    grade one pair; prints JSON {pred, gold, equal, reason}.
                    Either may be a whole response: its last \\boxed{} answer is used.
                    Write values that start with "-" as --pred=-3.
  --time-limit MS   time budget per item (default 1000); running out counts as not equal
  --rel-tol X       relative tolerance when a side is a decimal (default 1e-6)
  --extract boxed|lenient
                    how a response's answer is found: boxed (default) takes the last
                    \\boxed{} after </think>; lenient falls back, when there is no box, to
                    "The final answer is X", "The answer is X", "Answer: X", then the
                    last $...$ of the final sentence`;

const command: Command = {
  name: 'grade',
  summary: 'grade maths answers for equivalence (one pair or a JSONL case file)',
  usage,
  async run(args) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        cases: { type: 'string' },
        pred: { type: 'string' },
        gold: { type: 'string' },
        'time-limit': { type: 'string' },
        'rel-tol': { type: 'string' },
        extract: { type: 'string' },
      },
      schema,
    );
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const opts: GradeOptions = {
      ...(values.timeLimit !== undefined ? { timeLimitMs: values.timeLimit } : {}),
      ...(values.relTol !== undefined ? { relTol: values.relTol } : {}),
      ...(values.extract !== undefined ? { extract: values.extract } : {}),
    };
    const single = values.pred !== undefined || values.gold !== undefined;
    if (values.cases !== undefined && single) throw new UsageError('give either --cases or --pred/--gold, not both');
    if (values.cases !== undefined) {
      const report = gradeCases(await readGradingCases(values.cases), opts);
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      return 0;
    }
    if (values.pred === undefined || values.gold === undefined)
      throw new UsageError('give --cases FILE, or both --pred and --gold');
    const verdict = gradeAnswer(values.pred, values.gold, opts);
    process.stdout.write(JSON.stringify({ pred: values.pred, gold: values.gold, ...verdict }, null, 2) + '\n');
    return 0;
  },
};

export default command;
